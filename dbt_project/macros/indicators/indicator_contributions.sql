{#- The row-level contributions of every indicator, built from `indicator_definitions()`
    (generated from dbt_project/indicators/*.yml): one row per fact row behind a cell, with
    what it adds to the numerator (`weight`) and, where the denominator is a sum over rows,
    to the denominator (`denominator_weight`); `measure` holds the days of a median's rows
    and a source's records a month for reporting gaps and coverage. Each row carries its
    breakdowns (`sex`, `age_group`) where its indicator is published by them, else `all`.
    The only place an indicator's rows are selected: `mart_indicators_monthly` sums these
    rows. -#}
{% macro indicator_contributions() -%}
{%- set definitions = indicator_definitions() -%}
{#- An incremental build reads, for the indicators recomputed by unit, only the changed
    units' rows (macros/indicators/indicator_changes.sql). -#}
{%- set by_unit = indicator_unit_interfaces() if is_incremental() else {} -%}
{%- set partly = indicator_unit_interfaces(partial=true) if is_incremental() else {} -%}
{%- set mixed = indicator_mixed_interfaces() if is_incremental() else {} -%}
{%- set parts = [] -%}
{%- set used = [] -%}
{%- set changed = [] -%}
{%- for indicator in definitions.indicators -%}
    {%- for part in indicator_row_parts(indicator) -%}
        {%- set is_changed = indicator.code in by_unit.get(part.fact, [])
            or indicator.code in partly.get(part.fact, [])
            or indicator.code in mixed.get(part.fact, []) -%}
        {#- The cell's source: each row's label (`by_source`), or the indicator's. -#}
        {%- do part.update({'source': 'source_system' if indicator.by_source
            else "'" ~ indicator.source ~ "'", 'disaggregations': indicator.disaggregations,
            'rows': 'interface__' ~ part.fact ~ ('__changed' if is_changed else '')}) -%}
        {%- do parts.append(part) -%}
        {%- if is_changed -%}
            {%- if part.fact not in changed %}{% do changed.append(part.fact) %}{% endif -%}
        {%- elif part.fact not in used -%}
            {%- do used.append(part.fact) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endfor -%}
{%- set coverage = definitions.indicators
    | selectattr('kind', 'in', ['gap', 'coverage_share']) | list -%}

with

spine as (

    select * from {{ ref('int_indicator_spine') }}

),

age_groups as (

    select * from {{ ref('int_age_groups') }}

),
{% for name in used | sort %}
{{ indicator_interface(name, definitions.interfaces[name]) }}
{% endfor %}
{%- for name in changed | sort %}
{{ indicator_interface(name, definitions.interfaces[name], changed=true) }}
{% endfor %}
{%- for part in parts %}
contribution_{{ loop.index }} as (

    {{ indicator_part_rows(part) }}

),
{% endfor %}
{%- if coverage %}
{{ indicator_coverage_rows(coverage, definitions.reporting_sources, definitions.window) }}
{%- endif %}

contributions as (
{% for part in parts %}
    select * from contribution_{{ loop.index }}
    {% if not loop.last or coverage %}union all{% endif %}
{%- endfor %}
{%- if coverage %}
    select * from coverage_contributions
{%- endif %}

),

final as (

    select
        contributions.indicator_code
        || '/' || contributions.municipality_code
        || '/' || contributions.month
        || '/' || contributions.fact_model
        || '/' || contributions.fact_key as contribution_id,
        contributions.indicator_code,
        contributions.municipality_code,
        contributions.month,
        contributions.sex,
        contributions.age_group,
        contributions.source,
        contributions.fact_model,
        contributions.fact_key,
        contributions.counted_id,
        contributions.weight,
        contributions.denominator_weight,
        contributions.measure,
        cast(contributions.batch_id as text) as batch_id,
        cast(contributions.source_file as text) as source_file,
        cast(contributions.source_row as bigint) as source_row,
        cast(contributions.file_sha256 as text) as file_sha256

    from contributions
    -- Only the cells the indicator table has: the spine's municipalities and months.
    inner join spine
        on
            contributions.municipality_code = spine.municipality_code
            and contributions.month = spine.month

)

select * from final
{%- endmacro %}


{#- The selects behind one indicator's rows: one when the numerator (and a denominator over
    the same rows) come from one fact; a numerator and a denominator part when they come
    from different facts or the numerator counts distinct ids. Each part: fact, where,
    weight, denominator_weight and measure (SQL over the interface's columns), distinct. -#}
{% macro indicator_row_parts(indicator) -%}
{%- set num = indicator.numerator -%}
{%- set den = indicator.denominator -%}
{%- set found = [] -%}
{%- if indicator.kind == 'median' -%}
    {%- do found.append({
        'code': indicator.code, 'fact': num.fact, 'where': num.where or 'true',
        'weight': '0', 'denominator_weight': '1', 'measure': num.measure, 'distinct': false,
    }) -%}
{%- elif num.fact -%}
    {%- set listed = indicator.lists_denominator -%}
    {%- set shared = listed and den.fact == num.fact and not num.distinct -%}
    {%- set num_where = num.where or 'true' -%}
    {%- set num_weight = 'case when ' ~ num_where ~ ' then ' ~ (num.weight or '1') ~ ' else 0 end' -%}
    {%- if shared -%}
        {%- do found.append({
            'code': indicator.code, 'fact': num.fact,
            'where': '(' ~ num_where ~ ') or (' ~ (den.where or 'true') ~ ')',
            'weight': num_weight,
            'denominator_weight': 'case when ' ~ (den.where or 'true') ~ ' then '
                ~ (den.weight or '1') ~ ' else 0 end',
            'measure': none, 'distinct': false,
        }) -%}
    {%- else -%}
        {%- do found.append({
            'code': indicator.code, 'fact': num.fact, 'where': num_where,
            'weight': num_weight, 'denominator_weight': '0' if listed else none,
            'measure': none, 'distinct': num.distinct,
        }) -%}
        {%- if listed -%}
            {%- do found.append({
                'code': indicator.code, 'fact': den.fact, 'where': den.where or 'true',
                'weight': '0',
                'denominator_weight': 'case when ' ~ (den.where or 'true') ~ ' then '
                    ~ (den.weight or '1') ~ ' else 0 end',
                'measure': none, 'distinct': den.distinct,
            }) -%}
        {%- endif -%}
    {%- endif -%}
{%- endif -%}
{{ return(found) }}
{%- endmacro %}


{#- A fact interface as a CTE `interface__<name>`: the model's columns plus fact_model,
    fact_key, counted_id and month (a model without `key` already has that shape), and the
    row's breakdowns `breakdown_sex` and `breakdown_age_group` (macro
    indicator_breakdown_columns). `inline`: the CTE is `not materialized`, so that a query
    reading it twice reads only the columns and rows it needs each time (PostgreSQL
    materialises a CTE read twice: every column of every fact row). -#}
{% macro indicator_interface(name, interface, changed=false, breakdowns=true, inline=false) -%}
{%- set filters = [interface.rows] if interface.rows else [] -%}
{%- if changed -%}
    {#- Only the rows int_indicator_changes says change (an incremental build). -#}
    {%- do filters.append(indicator_changed_rows(name, interface, 'facts')) -%}
{%- endif -%}
interface__{{ name }}{{ '__changed' if changed }} as {{ 'not materialized ' if inline }}(
{% if not interface.key %}
    select
        facts.*,
        {{ indicator_breakdown_columns(interface) }}

    from {{ ref(interface.model) }} as facts
    {{- indicator_age_group_join(interface) }}
    {%- if changed %}
    where {{ indicator_changed_rows(name, interface, 'facts') }}
    {%- endif %}
{%- elif interface.year_of %}
    -- A yearly fact stands for every month of its year.
    select
        facts.*,
        '{{ interface.model }}' as fact_model,
        cast(facts.{{ interface.key }} as text) as fact_key,
        cast(facts.{{ interface.counted_by or interface.key }} as text) as counted_id,
        spine.month,
        {{ indicator_breakdown_columns(interface) }}

    from {{ ref(interface.model) }} as facts
    inner join {{ ref('int_indicator_spine') }} as spine
        on
            facts.municipality_code = spine.municipality_code
            and facts.{{ interface.year_of }} = extract(year from spine.month_start)
    {{- indicator_age_group_join(interface) }}
    {%- if interface.rows %}
    where {{ interface.rows }}
    {%- endif %}
{%- else %}
    select
        facts.*,
        '{{ interface.model }}' as fact_model,
        cast(facts.{{ interface.key }} as text) as fact_key,
        cast(facts.{{ interface.counted_by or interface.key }} as text) as counted_id,
        to_char(facts.{{ interface.month_of }}, 'YYYY-MM') as month
        {%- if breakdowns %},
        {{ indicator_breakdown_columns(interface) }}
        {%- endif %}

    from {{ ref(interface.model) }} as facts
    {%- if breakdowns %}
    {{- indicator_age_group_join(interface) }}
    {%- endif %}
    {%- if filters %}
    where {{ filters | join(' and ') }}
    {%- endif %}
{%- endif %}

),
{%- endmacro %}


{#- A fact row's sex (`M`, `F`, else `unknown`) and age group (the population's group its
    age falls in, or its own group if it is one of them, else `unknown`) from the columns
    its interface names (`_facts.yml`); `all` where the fact records none. -#}
{% macro indicator_breakdown_columns(interface) -%}
    {%- if interface.sex -%}
        case
            when facts.{{ interface.sex }} in ('M', 'F') then facts.{{ interface.sex }}
            else 'unknown'
        end as breakdown_sex,
    {%- else -%}
        'all' as breakdown_sex,
    {%- endif %}
        {% if interface.age or interface.age_group -%}
            coalesce(age_groups.age_group, 'unknown') as breakdown_age_group
        {%- else -%}
            'all' as breakdown_age_group
        {%- endif %}
{%- endmacro %}


{#- The join that puts a fact row in its age group (`age_groups`, from int_age_groups). -#}
{% macro indicator_age_group_join(interface) -%}
    {%- if interface.age %}
    left join age_groups
        on
            facts.{{ interface.age }} >= age_groups.age_from
            and (age_groups.age_to is null or facts.{{ interface.age }} <= age_groups.age_to)
    {%- elif interface.age_group %}
    left join age_groups
        on facts.{{ interface.age_group }} = age_groups.age_group
    {%- endif %}
{%- endmacro %}


{#- One part's rows. A distinct count keeps one row per id and cell (the smallest key); a
    null id is not counted (as count(distinct) ignores nulls). -#}
{% macro indicator_part_rows(part) -%}
{%- set columns -%}
        '{{ part.code }}' as indicator_code,
        municipality_code,
        month,
        cast(fact_model as text) as fact_model,
        cast(fact_key as text) as fact_key,
        cast(counted_id as text) as counted_id,
        cast({{ part.source }} as text) as source,
        {{ 'breakdown_sex' if 'sex' in part.disaggregations else "'all'" }} as sex,
        {{ 'breakdown_age_group' if 'age_group' in part.disaggregations else "'all'" }}
            as age_group,
        cast({{ part.weight }} as numeric) as weight,
        cast({{ part.denominator_weight or 'null' }} as numeric) as denominator_weight,
        cast({{ part.measure or 'null' }} as numeric) as measure,
        cast(batch_id as text) as batch_id,
        cast(source_file as text) as source_file,
        cast(source_row as bigint) as source_row,
        cast(file_sha256 as text) as file_sha256
{%- endset -%}
{%- if part.distinct %}
    select
        indicator_code,
        municipality_code,
        month,
        fact_model,
        fact_key,
        counted_id,
        source,
        sex,
        age_group,
        weight,
        denominator_weight,
        measure,
        batch_id,
        source_file,
        source_row,
        file_sha256

    from (
        select
            {{ columns }},
            row_number() over (
                partition by municipality_code, month, counted_id
                order by fact_key, batch_id, source_row
            ) as pick

        from {{ part.rows }}
        where ({{ part.where }}) and counted_id is not null
    ) as ranked
    where pick = 1
{%- else %}
    select
        {{ columns }}

    from {{ part.rows }}
    where {{ part.where }}
{%- endif %}
{%- endmacro %}


{#- Reporting gaps and coverage: each reporting source's records per month (by the date it
    registers them), and for each cell the months of its window (the `window.months` before
    it and itself), `measure` = that month's records. The cell's own month row carries the
    weight: 1 for a gap (an absence: no records), and for coverage 1 in the denominator for a
    usual source, in the numerator too if it reported. -#}
{% macro indicator_coverage_rows(indicators, sources, window) -%}
coverage_records as (
{% for source in sources %}
    select
        '{{ source.source }}' as reporting_source,
        municipality_code,
        to_char({{ source.date }}, 'YYYY-MM') as month,
        count(*) as records
    from {{ ref(source.model) }}
    group by 1, 2, 3
    {% if not loop.last %}union all{% endif %}
{% endfor %}
),

coverage_sources as (

    select
        reporting_source,
        fact_model
    from (
        values
        {%- for source in sources %}
            ('{{ source.source }}', '{{ source.model }}'){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as listed (reporting_source, fact_model)

),

coverage_grid as (

    select
        spine.municipality_code,
        spine.month,
        spine.month_start,
        coverage_sources.reporting_source,
        coverage_sources.fact_model,
        coalesce(coverage_records.records, 0) as records

    from spine
    cross join coverage_sources
    left join coverage_records
        on
            spine.municipality_code = coverage_records.municipality_code
            and spine.month = coverage_records.month
            and coverage_sources.reporting_source = coverage_records.reporting_source

),

coverage_windows as (

    select
        cell.municipality_code,
        cell.month,
        cell.reporting_source,
        cell.fact_model,
        cell.records as records_in_month,
        window_month.month as window_month,
        window_month.records,
        count(*) filter (
            where window_month.month_start < cell.month_start and window_month.records > 0
        ) over (
            partition by cell.municipality_code, cell.month, cell.reporting_source
        ) as months_with_records_before,
        coalesce(
            sum(window_month.records) filter (
                where window_month.month_start < cell.month_start
            ) over (partition by cell.municipality_code, cell.month, cell.reporting_source),
            0
        ) as records_before

    from coverage_grid as cell
    inner join coverage_grid as window_month
        on
            cell.municipality_code = window_month.municipality_code
            and cell.reporting_source = window_month.reporting_source
            and window_month.month_start
            between cell.month_start - interval '{{ window.months }} months' and cell.month_start

),

coverage_usual as (

    select *
    from coverage_windows
    where
        months_with_records_before >= {{ window.usual_months }}
        and records_before >= {{ window.usual_records }}

),

coverage_contributions as (
{% for indicator in indicators %}
    {%- set source = indicator.numerator.reporting_source %}
    select
        '{{ indicator.code }}' as indicator_code,
        municipality_code,
        month,
        fact_model,
        window_month as fact_key,
        reporting_source as counted_id,
        cast('{{ indicator.source }}' as text) as source,
        'all' as sex,
        'all' as age_group,
    {%- if indicator.kind == 'gap' %}
        cast(case when window_month = month then 1 else 0 end as numeric) as weight,
        cast(null as numeric) as denominator_weight,
    {%- else %}
        cast(
            case when window_month = month and records_in_month > 0 then 1 else 0 end as numeric
        ) as weight,
        cast(case when window_month = month then 1 else 0 end as numeric) as denominator_weight,
    {%- endif %}
        cast(records as numeric) as measure,
        cast(null as text) as batch_id,
        cast(null as text) as source_file,
        cast(null as bigint) as source_row,
        cast(null as text) as file_sha256

    from coverage_usual
    {%- if indicator.kind == 'gap' %}
    where records_in_month = 0 and reporting_source = '{{ source }}'
    {%- elif source != 'all' %}
    where reporting_source = '{{ source }}'
    {%- endif %}
    {% if not loop.last %}union all{% endif %}
{% endfor %}
),
{%- endmacro %}
