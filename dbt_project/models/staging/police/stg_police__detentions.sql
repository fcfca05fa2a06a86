with

source as (

    select * from {{ source('police', 'police__detentions') }}

),

renamed as (

    select
        detention_id,
        recorded_at,
        detention_date,
        detention_time,
        municipality_reported,
        municipality_name,
        report_id,
        offence_code as national_offence_code,
        offence_name as national_offence_name,
        detainee_national_id_pseudonym as detainee_id_pseudonym,
        detainee_national_id_status as detainee_id_status,
        detainee_name_pseudonym,
        detainee_name_tokens,
        coalesce(detainee_sex, 'I') as detainee_sex,
        detainee_age,
        coalesce(legal_basis, 'sin dato') as legal_basis,
        hours_held,
        handed_to_prosecutor as is_handed_to_prosecutor,
        {{ provenance_columns() }}

    from source

)

select * from renamed
