{#- Until the first pull publishes a batch, raw.justice__judgements does not exist; the source is
    then empty (typed from _justice__sources.yml) rather than missing, so `dbt build` of
    the whole project never depends on which sources have arrived. -#}
{%- set raw_table = source('justice', 'justice__judgements') -%}
{%- set raw_exists = (load_relation(raw_table) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
        select * from {{ raw_table }}
    {%- else -%}
    select
        {%- for column in graph.sources['source.observatorio.justice.justice__judgements'].columns.values() %}
        cast(null as {{ column.data_type }}) as {{ column.name }}{{ "," if not loop.last }}
        {%- endfor %}
    where false
    {%- endif %}

),

renamed as (

    select
        judgement_id,
        case_id,
        party_id,
        judgement_date,
        verdict as verdict_code,
        case verdict
            when 'condena' then 'conviction'
            when 'absolucion' then 'acquittal'
        end as verdict,
        sentence_months,
        status as judgement_status,
        created_at,
        updated_at,
        _batch_id as batch_id,
        _source_file as source_file,
        _source_query as source_query,
        _source_row as source_row,
        _file_sha256 as file_sha256,
        _ingested_at as ingested_at

    from source

)

select * from renamed
