-- Each forensic death with its ICD-10 external-cause group and intent, and the day of the
-- incident: the admission day when the same person (national-ID pseudonym) died in hospital
-- on the death date, otherwise the death date itself (death at the scene or on arrival).
with

deaths as (

    select * from {{ ref('stg_health__forensic_deaths') }}

),

admissions as (

    select * from {{ ref('stg_health__hospital_admissions') }}

),

cause_groups as (

    select * from {{ ref('int_icd10_groups') }}

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
        cause_groups.group_code as icd10_group_code,
        cause_groups.group_name_es as icd10_group_name_es,
        coalesce(cause_groups.intent, 'unclassified') as intent,
        fatal_admissions.admission_id as linked_admission_id,
        coalesce(fatal_admissions.admission_date, deaths.death_date) as incident_date,
        case
            when fatal_admissions.admission_id is not null then 'hospital_admission'
            else 'death_date'
        end as incident_date_source

    from deaths
    left join cause_groups
        on {{ icd10_code_in_range(
            'deaths.icd10_cause_code', 'cause_groups.range_start', 'cause_groups.range_end'
        ) }}
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
