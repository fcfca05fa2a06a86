{#- Every indicator cell (indicator × municipality × month × sex × age group) from the
    row-level contributions, so a published number and its explanation cannot disagree: the
    numerator is the sum of the rows' weights (a median: the median of their `measure`), the
    denominator a population (of the spine, or of the cell's sex and age group from
    `population`), the sum of the rows' denominator weights, or none, as
    `indicator_definitions()` says; the value follows the indicator's kind
    (`indicator_value`). The `all` × `all` cells are dense (a cell without rows has
    numerator 0); the cells by sex, by age group and by both, of the indicators published by
    them, are sparse: only those with rows (a missing one has numerator 0). -#}
{% macro indicator_cells(spine, contributions, population) -%}
{%- set definitions = indicator_definitions() -%}
{%- set medians = definitions.indicators | selectattr('kind', 'equalto', 'median')
    | map(attribute='code') | list -%}

{{ indicator_list() }}

-- The rows' sums for each cell and breakdown the rows carry.
row_sums as (

    select
        indicator_code,
        municipality_code,
        month,
        source,
        sex,
        age_group,
        sum(weight) as weights,
        sum(denominator_weight) as denominator_weights

    from {{ contributions }}
    group by indicator_code, municipality_code, month, source, sex, age_group

),

-- The sources of each indicator's cells: its own, or for a `by_source` indicator each label
-- its rows carry (none: no cells, as a source that sent nothing has nothing to publish).
indicator_sources as (

    select
        indicator_code,
        source

    from indicators
    where not by_source

    union

    select distinct
        row_sums.indicator_code,
        row_sums.source

    from row_sums
    inner join indicators
        on row_sums.indicator_code = indicators.indicator_code
    where indicators.by_source

),

-- Each cell's sums, for `all` and for every breakdown its rows carry: a row says `all` for
-- a breakdown its indicator is not published by, so that grouping would repeat the total.
-- Summed from the rows once (`row_sums`), then rolled up: the grouping sets run over those
-- sums, not over every row. Sums of numerics are exact: the same as summing the rows.
sums as (

    select
        indicator_code,
        municipality_code,
        month,
        source,
        case when grouping(sex) = 1 then 'all' else sex end as sex,
        case when grouping(age_group) = 1 then 'all' else age_group end as age_group,
        sum(weights) as weights,
        sum(denominator_weights) as denominator_weights

    from row_sums
    group by
        indicator_code,
        municipality_code,
        month,
        source,
        grouping sets ((), (sex), (age_group), (sex, age_group))
    having
        (grouping(sex) = 1 or sex != 'all')
        and (grouping(age_group) = 1 or age_group != 'all')

),

medians as (

    select
        indicator_code,
        municipality_code,
        month,
        percentile_cont(0.5) within group (order by measure) as median_measure

    from {{ contributions }}
    where indicator_code in (
        {%- for code in medians %}'{{ code }}'{% if not loop.last %}, {% endif %}{% endfor -%}
        {%- if not medians %}null{% endif -%}
    )
    group by 1, 2, 3

),

total_cells as (

    select
        indicators.indicator_code,
        {{ spine }}.municipality_code,
        {{ spine }}.month,
        'all' as sex,
        'all' as age_group,
        indicators.kind,
        indicator_sources.source,
        indicators.value_precision,
        indicators.has_poisson_interval,
        indicators.min_stable_numerator,
        case
            when indicators.kind = 'median'
                then coalesce(
                    round(cast(medians.median_measure as numeric), indicators.value_precision), 0
                )
            else coalesce(sums.weights, 0)
        end as numerator,
        {{ indicator_denominator(spine, 'sums.denominator_weights') }} as denominator

    from {{ spine }}
    cross join indicators
    inner join indicator_sources
        on indicators.indicator_code = indicator_sources.indicator_code
    left join sums
        on
            indicators.indicator_code = sums.indicator_code
            and {{ spine }}.municipality_code = sums.municipality_code
            and {{ spine }}.month = sums.month
            and indicator_sources.source = sums.source
            and sums.sex = 'all'
            and sums.age_group = 'all'
    left join medians
        on
            indicators.indicator_code = medians.indicator_code
            and {{ spine }}.municipality_code = medians.municipality_code
            and {{ spine }}.month = medians.month

),

-- The breakdowns: only cells with rows; a population denominator is the population of the
-- cell's sex and age group (none for `unknown`: no rate).
disaggregated_cells as (

    select
        sums.indicator_code,
        sums.municipality_code,
        sums.month,
        sums.sex,
        sums.age_group,
        indicators.kind,
        sums.source,
        indicators.value_precision,
        indicators.has_poisson_interval,
        indicators.min_stable_numerator,
        sums.weights as numerator,
        {{ indicator_denominator(population, 'sums.denominator_weights') }} as denominator

    from sums
    inner join indicators
        on sums.indicator_code = indicators.indicator_code
    left join {{ population }}
        on
            sums.municipality_code = {{ population }}.municipality_code
            and cast(left(sums.month, 4) as integer) = {{ population }}.year
            and sums.sex = {{ population }}.sex
            and sums.age_group = {{ population }}.age_group
    where sums.sex != 'all' or sums.age_group != 'all'

),

cells as (

    select * from total_cells
    union all
    select * from disaggregated_cells

),
{%- endmacro %}


{#- The published value of a cell from its numerator and denominator, by kind: a count (and
    a reporting gap) is its numerator; a rate per 100,000, a share or one minus a share is
    rounded to `precision` places and null when the base is 0 or missing; a median is its
    numerator, null when no row was measured. `observatorio.lineage.recompute` mirrors it. -#}
{% macro indicator_value(kind, numerator, denominator, precision) -%}
    case
        when {{ kind }} in ('count', 'gap') then {{ numerator }}
        when {{ kind }} = 'median' then case when {{ denominator }} > 0 then {{ numerator }} end
        when {{ denominator }} > 0 and {{ kind }} = 'per_100k'
            then round({{ numerator }} * 100000 / {{ denominator }}, {{ precision }})
        when {{ denominator }} > 0 and {{ kind }} in ('share', 'coverage_share')
            then round({{ numerator }} / {{ denominator }}, {{ precision }})
        when {{ denominator }} > 0 and {{ kind }} = 'complement_share'
            then 1 - round({{ numerator }} / {{ denominator }}, {{ precision }})
    end
{%- endmacro %}



{#- A rate's exact Poisson 95 % interval (`bound`: lower or upper), scaled as the rate and
    rounded like it; null for other indicators and where the base is 0 or missing. -#}
{% macro indicator_interval(bound, numerator, denominator, precision) -%}
    case
        when has_poisson_interval and {{ denominator }} > 0
            then round(
                {{ poisson_exact_95(numerator, bound) }} * 100000 / {{ denominator }},
                {{ precision }}
            )
    end
{%- endmacro %}



{#- The CTE `indicators`: each indicator's kind, source, precision, what its denominator
    and interval are and its publication rules (the active country's, macro
    resolve_publication), from `indicator_definitions()` (cells of the municipalities, macro
    indicator_cells, of departments and the country, mart_indicators_monthly_areas, and
    bi_dim_indicator). -#}
{% macro indicator_list() -%}
{%- set definitions = indicator_definitions() -%}
{%- set columns = [
    'indicator_code', 'kind', 'source', 'by_source', 'value_precision', 'population_column',
    'lists_denominator', 'has_poisson_interval', 'min_stable_numerator', 'min_cell_size',
    'decimals'
] -%}
indicators as (

    select
        {{ columns | join(',\n        ') }}
    from (
        values
        {%- for indicator in definitions.indicators %}
            (
                '{{ indicator.code }}',
                '{{ indicator.kind }}',
                '{{ indicator.source }}',
                {{ 'true' if indicator.by_source else 'false' }},
                {{ indicator.precision }},
                {%- if indicator.denominator and indicator.denominator.population %}
                '{{ indicator.denominator.population }}',
                {%- else %}
                cast(null as text),
                {%- endif %}
                {{ 'true' if indicator.lists_denominator else 'false' }},
                {{ 'true' if indicator.poisson_interval else 'false' }},
                {{ indicator.min_stable_numerator }},
                {{ indicator.min_cell_size }},
                {{ indicator.decimals }}
            ){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as listed ({{ columns | join(', ') }})

),
{%- endmacro %}



{#- A cell's denominator: the population its indicator names (a column of `population`, the
    spine or the population of the cell's breakdown), else the sum of its rows' denominator
    weights (`listed`) where the denominator is a sum over rows, else none. -#}
{% macro indicator_denominator(population, listed) -%}
    case
        {%- for column in ['population', 'female_population'] %}
        when indicators.population_column = '{{ column }}'
            then cast({{ population }}.{{ column }} as numeric)
        {%- endfor %}
        when indicators.lists_denominator then coalesce({{ listed }}, 0)
    end
{%- endmacro %}


{#- Whether a cell's rate rests on too few events to be reliable (NCHS: fewer than 20; the
    definition's `min_stable_numerator`); null for indicators without a Poisson interval. -#}
{% macro indicator_is_unstable(numerator) -%}
    case
        when has_poisson_interval then {{ numerator }} < min_stable_numerator
    end
{%- endmacro %}


{#- A published cell's columns, one list for every table of cells: the indicator, the cell's
    area (`area_columns`: the municipality, or the area's level and code), month and
    breakdowns, its numerator, denominator and value, the source, and the value's interval and
    reliability. -#}
{% macro indicator_cell_columns(area_columns) -%}
        indicator_code,
        {%- for column in area_columns %}
        {{ column }},
        {%- endfor %}
        month,
        sex,
        age_group,
        numerator,
        denominator,
        {{ indicator_value('kind', 'numerator', 'denominator', 'value_precision') }} as value,
        source,
        {{ indicator_interval('lower', 'numerator', 'denominator', 'value_precision') }}
            as value_lower_95,
        {{ indicator_interval('upper', 'numerator', 'denominator', 'value_precision') }}
            as value_upper_95,
        {{ indicator_is_unstable('numerator') }} as is_unstable
{%- endmacro %}


{#- `area_level` and `area_code` of a row grouped by `grouping sets ((<department>, ...),
    (...))`: the department's row, or the nation's (`all`) where the department is rolled up. -#}
{% macro grouped_area(department) -%}
        case
            when grouping({{ department }}) = 1 then 'national' else 'department'
        end as area_level,
        case
            when grouping({{ department }}) = 1 then 'all'
            else {{ department }}
        end as area_code
{%- endmacro %}
