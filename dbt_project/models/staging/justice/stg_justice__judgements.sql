with

source as (

    select * from {{ source('justice', 'justice__judgements') }}

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
