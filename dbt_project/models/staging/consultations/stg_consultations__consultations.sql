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
        {{ provenance_columns() }}

    from source

)

select * from renamed
