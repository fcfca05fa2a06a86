with

source as (

    select * from {{ source('justice', 'justice__hearings') }}

),

renamed as (

    select
        hearing_id,
        case_id,
        hearing_type,
        scheduled_date,
        status as hearing_status,
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
