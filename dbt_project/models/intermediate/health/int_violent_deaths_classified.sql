-- Every violent death of every health source (the canonical interface) with its ICD-10
-- external-cause group and intent: the one place a death's cause is classified, read by the
-- forensic deaths' model and the indicators alike.
with

deaths as (

    select * from {{ ref('stg_interface__violent_deaths') }}

),

cause_groups as (

    select * from {{ ref('int_icd10_groups') }}

),

classified as (

    select
        deaths.*,
        cause_groups.group_code as icd10_group_code,
        cause_groups.group_name_es as icd10_group_name_es,
        coalesce(cause_groups.intent, 'unclassified') as intent

    from deaths
    left join cause_groups
        on {{ icd10_code_in_range(
            'deaths.icd10_code', 'cause_groups.range_start', 'cause_groups.range_end'
        ) }}

),

final as (

    select
        *,
        intent = 'homicide' as is_homicide,
        coalesce(icd10_group_code = 'Y35', false) as is_legal_intervention

    from classified

)

select * from final
