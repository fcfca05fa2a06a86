-- Each injury admission with the ICD-10 group and intent of its external cause, and the
-- forensic record of the death it ended in (when the patient died in hospital).
with

admissions as (

    select * from {{ ref('stg_health__hospital_admissions') }}

),

cause_groups as (

    select * from {{ ref('int_icd10_groups') }}

),

classified as (

    select
        admissions.*,
        cause_groups.group_code as external_cause_group_code,
        cause_groups.group_name_es as external_cause_group_name_es,
        coalesce(cause_groups.intent, 'unclassified') as intent

    from admissions
    left join cause_groups
        on {{ icd10_code_in_range(
            'admissions.external_cause_icd10_code',
            'cause_groups.range_start',
            'cause_groups.range_end'
        ) }}

),

final as (

    select
        *,
        coalesce(discharge_condition = 'fallecido', false) as is_fatal,
        discharge_date is not null as is_discharged

    from classified

)

select * from final
