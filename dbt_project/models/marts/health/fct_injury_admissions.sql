with

admissions as (

    select * from {{ ref('int_hospital_admissions_classified') }}

),

deaths as (

    select * from {{ ref('int_forensic_deaths_classified') }}

),

final as (

    select
        admissions.admission_id,
        admissions.facility_code,
        admissions.admission_date,
        admissions.discharge_date,
        admissions.is_discharged,
        admissions.discharge_condition,
        admissions.is_fatal,
        deaths.forensic_record_id,
        admissions.municipality_code,
        admissions.sex,
        admissions.age,
        admissions.diagnosis_icd10_raw,
        admissions.diagnosis_icd10_code,
        admissions.external_cause_icd10_raw,
        admissions.external_cause_icd10_code,
        admissions.external_cause_group_code,
        admissions.external_cause_group_name_es,
        admissions.intent,
        admissions.is_identified as is_identified_patient,
        admissions.person_id_pseudonym,
        admissions.person_id_status,
        admissions.person_name_pseudonym,
        admissions.person_name_tokens,
        admissions.version_count,
        admissions.updated_at,
        admissions.batch_id,
        admissions.source_file,
        admissions.source_query,
        admissions.source_row,
        admissions.file_sha256

    from admissions
    left join deaths
        on admissions.admission_id = deaths.linked_admission_id

)

select * from final
