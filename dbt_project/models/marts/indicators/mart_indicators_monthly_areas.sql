-- The indicator table for each department and the whole country (`national`, code `all`, as
-- in mart_justice_attrition): one row per indicator,
-- area, month, sex, age group and source, each the sum of its municipalities' rows of
-- `mart_indicators_monthly` (counts and the numerators and row-sum denominators of shares
-- add up), rates recomputed from the summed numerator over the area's population of the
-- cell's sex and age group, with their exact Poisson interval and unstable flag. Medians do
-- not add up: they have no area rows. Dense for `all` × `all`, sparse for the breakdowns,
-- as the municipal table. Incremental: a build deletes and recomputes the months
-- int_indicator_changes lists and the indicators recomputed whole (the pre-hook), then,
-- the last indicator table of the build, clears int_indicator_changes (the post-hook).
-- depends_on: {{ ref('int_indicator_changes') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ indicator_cells_replaced(['month']) }}",
        post_hook="delete from {{ ref('int_indicator_changes') }}",
    )
}}
with

indicator_rows as (

    select indicator_rows.*
    from {{ ref('mart_indicators_monthly') }} as indicator_rows
    {%- if is_incremental() %}
    where
        indicator_rows.indicator_code in ({{ indicator_rebuilt_list() }})
        or indicator_rows.month in (
            select changes.month from {{ ref('int_indicator_changes') }} as changes
        )
    {%- endif %}

),

municipalities as (

    select * from {{ ref('dim_municipality') }}

),

spine as (

    select * from {{ ref('int_indicator_spine') }}

),

municipal_population as (

    select * from {{ ref('int_indicator_population') }}

),

{{ indicator_list() }}

-- The population of each area, month, sex and age group: its municipalities that exist in
-- the month (the spine), with the population of the month's year.
population as (

    select
        {{ grouped_area('municipalities.department_code') }},
        spine.month,
        municipal_population.sex,
        municipal_population.age_group,
        sum(municipal_population.population) as population,
        sum(municipal_population.female_population) as female_population

    from spine
    inner join municipalities
        on spine.municipality_code = municipalities.municipality_code
    inner join municipal_population
        on
            spine.municipality_code = municipal_population.municipality_code
            and extract(year from spine.month_start) = municipal_population.year
    group by
        grouping sets (
            (
                municipalities.department_code,
                spine.month,
                municipal_population.sex,
                municipal_population.age_group
            ),
            (spine.month, municipal_population.sex, municipal_population.age_group)
        )

),

sums as (

    select
        {{ grouped_area('municipalities.department_code') }},
        indicator_rows.indicator_code,
        indicator_rows.month,
        indicator_rows.sex,
        indicator_rows.age_group,
        indicator_rows.source,
        sum(indicator_rows.numerator) as numerator,
        sum(indicator_rows.denominator) as denominator_weights

    from indicator_rows
    inner join municipalities
        on indicator_rows.municipality_code = municipalities.municipality_code
    inner join indicators
        on indicator_rows.indicator_code = indicators.indicator_code
    where indicators.kind != 'median'
    group by
        grouping sets (
            (
                municipalities.department_code,
                indicator_rows.indicator_code,
                indicator_rows.month,
                indicator_rows.sex,
                indicator_rows.age_group,
                indicator_rows.source
            ),
            (
                indicator_rows.indicator_code,
                indicator_rows.month,
                indicator_rows.sex,
                indicator_rows.age_group,
                indicator_rows.source
            )
        )

),

cells as (

    select
        sums.indicator_code,
        sums.area_level,
        sums.area_code,
        sums.month,
        sums.sex,
        sums.age_group,
        sums.source,
        sums.numerator,
        indicators.kind,
        indicators.value_precision,
        indicators.has_poisson_interval,
        indicators.min_stable_numerator,
        {{ indicator_denominator('population', 'sums.denominator_weights') }} as denominator

    from sums
    inner join indicators
        on sums.indicator_code = indicators.indicator_code
    left join population
        on
            sums.area_level = population.area_level
            and sums.area_code = population.area_code
            and sums.month = population.month
            and sums.sex = population.sex
            and sums.age_group = population.age_group

),

final as (

    select
        {{ indicator_cell_columns(['area_level', 'area_code']) }}

    from cells
    {%- if is_incremental() %}
    where
        indicator_code in ({{ indicator_rebuilt_list() }})
        or month in (select changes.month from {{ ref('int_indicator_changes') }} as changes)
    {%- endif %}

)

select * from final
