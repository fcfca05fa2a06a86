with

source as (

    select * from {{ source('consultations', 'consultations__consultations') }}

),

renamed as (

    select
        consultation_id,
        municipality_code,
        municipality_name,
        consultation_date,
        participants,
        cast(priorities as jsonb) as priorities,
        _batch_id as batch_id,
        _source_file as source_file,
        _source_row as source_row,
        _file_sha256 as file_sha256,
        _ingested_at as ingested_at

    from source

)

select * from renamed
