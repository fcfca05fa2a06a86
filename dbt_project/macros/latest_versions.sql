{#- One row per record, its latest version: the CTEs `versions`, `ranked` and `final` after a
    model's import CTE, for sources pulled incrementally (justice).

    Such a source updates a record in place and stamps `updated_at`; raw holds every version
    pulled, and rows re-read in the overlap window of two pulls arrive twice. `final` is the
    import CTE's row with the latest `updated_at` per `key` (ties broken by the latest load),
    with `version_rank` (1), `version_count` (distinct versions) and `rows_pulled` (rows that
    arrived, re-reads included), then any `aggregates` over the record's versions, given as
    {output column: SQL aggregate}.

    - `records`: the import CTE of the staging rows; `key`: the record's id column. -#}
{% macro latest_versions(records, key, aggregates={}) -%}
versions as (

    select
        {{ key }},
        count(distinct updated_at) as version_count,
        count(*) as rows_pulled
        {%- for column, aggregate in aggregates.items() %},
        {{ aggregate }} as {{ column }}
        {%- endfor %}

    from {{ records }}
    group by {{ key }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by {{ key }}
            order by updated_at desc, ingested_at desc, batch_id desc, source_row desc
        ) as version_rank

    from {{ records }}

),

final as (

    select
        ranked.*,
        versions.version_count,
        versions.rows_pulled
        {%- for column in aggregates %},
        versions.{{ column }}
        {%- endfor %}

    from ranked
    inner join versions
        on ranked.{{ key }} = versions.{{ key }}
    where ranked.version_rank = 1

)
{%- endmacro %}
