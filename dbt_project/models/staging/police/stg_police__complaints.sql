with

source as (

    select * from {{ source('police', 'police__complaints') }}

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
        {{ provenance_columns() }}

    from source

)

select * from renamed
