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
        _batch_id as batch_id,
        _source_file as source_file,
        _source_query as source_query,
        _source_row as source_row,
        _file_sha256 as file_sha256,
        _ingested_at as ingested_at

    from source

)

select * from renamed
