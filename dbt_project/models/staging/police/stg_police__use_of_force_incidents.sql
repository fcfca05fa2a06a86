with

source as (

    select * from {{ source('police', 'police__use_of_force') }}

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
        {{ provenance_columns() }}

    from source

)

select * from renamed
