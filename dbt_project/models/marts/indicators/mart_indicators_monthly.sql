-- The canonical indicator table: one row per indicator, municipality, month, sex and age
-- group, summed from the row-level contributions (`fct_indicator_contributions`), so every
-- published number is exactly what `observatorio explain` lists behind it. Indicators are
-- defined once, in dbt_project/indicators/*.yml (macro `indicator_cells`). Rates of counted
-- events over a population carry their exact Poisson 95 % interval and an unstable flag
-- (numerator below the definition's `min_stable_numerator`), separate from suppression.
-- `sex` and `age_group` are `all` in the dense rows (every municipality-month); the
-- indicators whose facts record a victim's (or a deceased's, a detainee's) sex and age are
-- also published by sex, by age group and by both, in sparse rows (only cells with rows).
-- Department and national rows: `mart_indicators_monthly_areas`. Incremental: a build
-- deletes and recomputes the municipality-months int_indicator_changes lists and the
-- indicators recomputed whole (macro indicator_cells_replaced, the pre-hook), reading only
-- their contributions.
-- depends_on: {{ ref('int_indicator_changes') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ indicator_cells_replaced(['municipality_code', 'month']) }}",
    )
}}
with

spine as (

    select * from {{ ref('int_indicator_spine') }}

),

-- Read twice (the sums, the medians), yet not materialized: each reading scans the table
-- itself, and no copy of every row is written to a temporary file first.
contributions as not materialized (

    select contributions.*
    from {{ ref('fct_indicator_contributions') }} as contributions
    {%- if is_incremental() %}
    where
        contributions.indicator_code in ({{ indicator_rebuilt_list() }})
        or (contributions.municipality_code, contributions.month) in (
            select changes.municipality_code, changes.month
            from {{ ref('int_indicator_changes') }} as changes
        )
    {%- endif %}

),

population as (

    select * from {{ ref('int_indicator_population') }}

),

{{ indicator_cells('spine', 'contributions', 'population') }}

final as (

    select
        {{ indicator_cell_columns(['municipality_code']) }}

    from cells
    {%- if is_incremental() %}
    where
        indicator_code in ({{ indicator_rebuilt_list() }})
        or (municipality_code, month) in (
            select changes.municipality_code, changes.month
            from {{ ref('int_indicator_changes') }} as changes
        )
    {%- endif %}

)

select * from final
