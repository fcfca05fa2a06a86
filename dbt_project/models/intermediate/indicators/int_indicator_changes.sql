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
{%- set interfaces = indicator_changed_interfaces() %}
{%- set by_unit = indicator_unit_interfaces() %}
{%- if not by_unit %}
    {{ exceptions.raise_compiler_error('no indicator is recomputed by unit: see _facts.yml') }}
{%- endif %}
{#- Before the first build, an empty relation of the same columns. -#}
{%- set built = contributions if contributions is not none else
    '(select cast(null as text) as indicator_code, cast(null as text) as municipality_code,'
    ~ ' cast(null as text) as month, cast(null as text) as counted_id,'
    ~ ' cast(null as text) as batch_id where false)' %}
{%- for name in interfaces if definitions.interfaces[name].versions %}
-- depends_on: {{ ref(definitions.interfaces[name].versions) }}
{%- endfor %}

with

spine as (

    select * from {{ ref('int_indicator_spine') }}

),

batches as (

    select * from {{ ref('stg_ops__batches') }}

),
{% for name in interfaces %}
    {{ indicator_interface(name, definitions.interfaces[name], breakdowns=false, inline=true) }}
{% endfor %}

built_period as (

    select
        min(month) as first_month,
        max(month) as last_month

    -- Aliased: before the first build `built` is a subquery, which PostgreSQL before 16
    -- refuses in FROM without a name.
    from {{ built }} as built

),

-- Published batches no contribution row carries yet (an index probe each).
unbuilt_batches as (

    select cast(batches.batch_id as text) as batch_id
    from batches
    where not exists (
        select 1 from {{ built }} as built
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
    {% for name in interfaces %}
        {%- set interface = definitions.interfaces[name] %}
        select
            '{{ name }}' as interface,
            counted_id

        from interface__{{ name }}
        where
            month in (select new_months.month from new_months)
            {%- if not interface.versions %}
                or cast(batch_id as text) in (
                    select unbuilt_batches.batch_id from unbuilt_batches
                )
            {%- endif %}
    {%- if interface.versions %}

            union

            -- Any version of a unit (a late one too, which may not be its latest).
            select
                '{{ name }}' as interface,
                cast(versions.{{ interface.counted_by or interface.key }} as text) as counted_id

            from {{ ref(interface.versions) }} as versions
            where
                cast(versions.batch_id as text) in (
                    select unbuilt_batches.batch_id from unbuilt_batches
                )
        {%- endif %}
        {% if not loop.last %}union{% endif %}
    {%- endfor %}

),

-- Where the changed units' rows are now, and where their contribution rows were.
unit_cells as (
    {% for name in by_unit | sort %}
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

        from {{ built }} as built
        inner join changed_units
            on
                changed_units.interface = '{{ name }}'
                and built.counted_id = changed_units.counted_id
        where
            built.indicator_code in (
                {%- for code in by_unit[name] %}
                    '{{ code }}'{% if not loop.last %},{% endif %}
                {%- endfor %}
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
    -- A row without a municipality or a month has no cell (the spine has none).
    where municipality_code is not null and month is not null

    union

    select
        cast(null as text) as interface,
        cast(null as text) as counted_id,
        cast(spine.municipality_code as text) as municipality_code,
        cast(spine.month as text) as month

    from spine
    where spine.month in (select new_months.month from new_months)

)

-- Before the first build there is nothing to compare with (the indicator tables are built
-- whole): no rows.
select * from final
where {{ 'false' if contributions is none else 'true' }}
