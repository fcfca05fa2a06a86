with

source as (

    select * from {{ source('police_ops', 'police__use_of_force') }}

),

renamed as (

    select
        incident_id,
        recorded_at,
        incident_date,
        incident_time,
        municipality_reported,
        municipality_name,
        force_type,
        persons_injured,
        persons_killed,
        detention_id,
        _batch_id as batch_id,
        _source_file as source_file,
        _source_row as source_row,
        _file_sha256 as file_sha256,
        _ingested_at as ingested_at

    from source

)

select * from renamed
