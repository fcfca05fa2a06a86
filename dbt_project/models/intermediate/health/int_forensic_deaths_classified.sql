-- Each forensic death with its ICD-10 external-cause group and intent (classified once, for
-- every health source, in `int_violent_deaths_classified`, which reads the canonical
-- interface; the same batch and row is the same death), and the day of the
-- incident: the admission day when the same person (national-ID pseudonym) died in hospital
-- on the death date, otherwise the death date itself (death at the scene or on arrival).
with

deaths as (

    select * from {{ ref('stg_health__forensic_deaths') }}

),

admissions as (

    select * from {{ ref('stg_health__hospital_admissions') }}

),

classified_deaths as (

    select * from {{ ref('int_violent_deaths_classified') }}

),

fatal_admissions as (

    select
        admission_id,
        admission_date,
        discharge_date,
        person_id_pseudonym,
        row_number() over (
            partition by person_id_pseudonym, discharge_date
            order by admission_date desc, admission_id desc
        ) as admission_rank

    from admissions
    where
        discharge_condition = 'fallecido'
        and person_id_pseudonym is not null

),

classified as (

    select
        deaths.*,
        classified_deaths.icd10_group_code,
        classified_deaths.icd10_group_name_es,
        coalesce(classified_deaths.intent, 'unclassified') as intent,
        fatal_admissions.admission_id as linked_admission_id,
        coalesce(fatal_admissions.admission_date, deaths.death_date) as incident_date,
        case
            when fatal_admissions.admission_id is not null then 'hospital_admission'
            else 'death_date'
        end as incident_date_source

    from deaths
    left join classified_deaths
        on
            deaths.batch_id = classified_deaths.batch_id
            and deaths.source_row = classified_deaths.source_row
    left join fatal_admissions
        on
            deaths.person_id_pseudonym = fatal_admissions.person_id_pseudonym
            and deaths.death_date = fatal_admissions.discharge_date
            and fatal_admissions.admission_rank = 1

),

final as (

    select
        *,
        intent = 'homicide' as is_homicide,
        coalesce(icd10_group_code = 'Y35', false) as is_legal_intervention

    from classified

)

select * from final
