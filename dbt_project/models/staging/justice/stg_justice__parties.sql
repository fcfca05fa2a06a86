-- The justice system's case parties in the shape of the `justice_parties` interface
-- (stg_interface__justice_parties checks it). SQL, not a contract mapping: an unknown sex
-- gets the interface's code `I`.
with

source as (

    select * from {{ source('justice', 'justice__parties') }}

),

renamed as (

    select
        party_id,
        case_id,
        role as party_role,
        national_id_pseudonym as person_id_pseudonym,
        national_id_status as person_id_status,
        full_name_pseudonym as person_name_pseudonym,
        full_name_tokens as person_name_tokens,
        coalesce(sex, 'I') as sex,
        birth_year,
        procedural_status,
        created_at,
        updated_at,
        {{ interface_source_columns('justice', source('justice', 'justice__parties')) }},
        {{ provenance_columns(source_query=true) }}

    from source

)

select * from renamed
