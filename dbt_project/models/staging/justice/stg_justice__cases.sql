{#- Until the first pull publishes a batch, raw.justice__cases does not exist; the source is
    then empty (typed from _justice__sources.yml) rather than missing, so `dbt build` of
    the whole project never depends on which sources have arrived. -#}
{%- set raw_table = source('justice', 'justice__cases') -%}
{%- set raw_exists = (load_relation(raw_table) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
        select * from {{ raw_table }}
    {%- else -%}
    select
        {%- for column in graph.sources['source.observatorio.justice.justice__cases'].columns.values() %}
        cast(null as {{ column.data_type }}) as {{ column.name }}{{ "," if not loop.last }}
        {%- endfor %}
    where false
    {%- endif %}

),

renamed as (

    select
        case_id,
        report_number as police_report_number,
        municipality_code as municipality_reported,
        municipality_name,
        offence_code as national_offence_code,
        opened_date,
        status as case_status,
        decision as decision_code,
        case decision
            when 'desestimada' then 'dismissed'
            when 'salida_alternativa' then 'alternative_resolution'
            when 'acusacion' then 'indictment'
        end as prosecutor_decision,
        decision_date,
        court_case_id,
        court_filed_date,
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
