{{
    config(
        materialized='incremental',
        incremental_strategy='append',
    )
}}
-- What an incremental build of the indicator tables recomputes (macros in
-- macros/indicators/indicator_changes.sql): each unit (`interface`, `counted_id`) of a plain
-- fact with a row in a batch the contributions do not hold yet, or in a month the spine did
-- not cover, with every cell (`municipality_code`, `month`) it had a contribution row in and
-- every cell its rows are in now; and every cell of a month new to the spine (`interface`
-- null). Built before fct_indicator_contributions, so it reads that table as it stands (not by
-- `ref`: that would be a cycle). Rows accumulate until the last indicator mart of the build
-- has used them (mart_indicators_monthly_areas deletes them in its post-hook), so a build that
-- fails half-way leaves them for the next one: recomputing a unit or a cell twice is harmless.
{%- set contributions = indicator_contributions_relation() %}
{%- set definitions = indicator_definitions() %}
{%- set interfaces = indicator_unit_interfaces() %}

with

spine as (

    select * from {{ ref('int_indicator_spine') }}

),

age_groups as (

    select * from {{ ref('int_age_groups') }}

),

batches as (

    select * from {{ ref('stg_ops__batches') }}

),
{% for name in interfaces | sort %}
{{ indicator_interface(name, definitions.interfaces[name], breakdowns=false) }}
{% endfor %}
{%- if contributions is none or not interfaces %}

final as (

    select
        cast(null as text) as interface,
        cast(null as text) as counted_id,
        cast(null as text) as municipality_code,
        cast(null as text) as month

    where false

)
{%- else %}

built_period as (

    select
        min(month) as first_month,
        max(month) as last_month

    from {{ contributions }}

),

-- Published batches no contribution row carries yet (an index probe each).
unbuilt_batches as (

    select cast(batches.batch_id as text) as batch_id
    from batches
    where not exists (
        select 1 from {{ contributions }} as built
        where built.batch_id = cast(batches.batch_id as text)
    )

),

new_months as (

    select distinct spine.month
    from spine
    cross join built_period
    where
        built_period.first_month is null
        or spine.month < built_period.first_month
        or spine.month > built_period.last_month

),

changed_units as (
{% for name in interfaces | sort %}
    select distinct
        '{{ name }}' as interface,
        counted_id

    from interface__{{ name }}
    where
        cast(batch_id as text) in (select unbuilt_batches.batch_id from unbuilt_batches)
        or month in (select new_months.month from new_months)
    {% if not loop.last %}union all{% endif %}
{%- endfor %}

),

-- Where the changed units' rows are now, and where their contribution rows were.
unit_cells as (
{% for name in interfaces | sort %}
    select
        changed_units.interface,
        changed_units.counted_id,
        interface__{{ name }}.municipality_code,
        interface__{{ name }}.month

    from interface__{{ name }}
    inner join changed_units
        on
            changed_units.interface = '{{ name }}'
            and interface__{{ name }}.counted_id = changed_units.counted_id

    union all

    select
        changed_units.interface,
        changed_units.counted_id,
        built.municipality_code,
        built.month

    from {{ contributions }} as built
    inner join changed_units
        on
            changed_units.interface = '{{ name }}'
            and built.counted_id = changed_units.counted_id
    where built.indicator_code in (
        {%- for code in interfaces[name] %}'{{ code }}'{% if not loop.last %}, {% endif %}{% endfor -%}
    )
    {% if not loop.last %}union all{% endif %}
{%- endfor %}

),

final as (

    select distinct
        interface,
        counted_id,
        cast(municipality_code as text) as municipality_code,
        cast(month as text) as month

    from unit_cells

    union

    select
        cast(null as text) as interface,
        cast(null as text) as counted_id,
        cast(spine.municipality_code as text) as municipality_code,
        cast(spine.month as text) as month

    from spine
    where spine.month in (select new_months.month from new_months)

)
{%- endif %}

select * from final
