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
        {{ provenance_columns(source_query=true) }}

    from source

)

select * from renamed
