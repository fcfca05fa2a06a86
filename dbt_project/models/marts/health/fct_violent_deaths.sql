with

deaths as (

    select * from {{ ref('int_forensic_deaths_classified') }}

),

final as (

    select
        forensic_record_id,
        death_date,
        incident_date,
        incident_date_source,
        autopsy_date,
        municipality_code,
        sex,
        age,
        icd10_cause_raw,
        icd10_cause_code,
        icd10_group_code,
        icd10_group_name_es,
        intent,
        is_homicide,
        is_legal_intervention,
        manner_of_death_reported,
        is_identified as is_identified_body,
        person_id_pseudonym,
        person_id_status,
        person_name_pseudonym,
        person_name_tokens,
        linked_admission_id,
        version_count,
        updated_at,
        batch_id,
        source_file,
        source_query,
        source_row,
        file_sha256

    from deaths

)

select * from final
