with

source as (

    select * from {{ source('police_ops', 'police__complaints') }}

),

renamed as (

    select
        complaint_id,
        recorded_at,
        incident_date,
        municipality_reported,
        municipality_name,
        complaint_type,
        detention_id,
        coalesce(status, 'sin dato') as complaint_status,
        _batch_id as batch_id,
        _source_file as source_file,
        _source_row as source_row,
        _file_sha256 as file_sha256,
        _ingested_at as ingested_at

    from source

)

select * from renamed
