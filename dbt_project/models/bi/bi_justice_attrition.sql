-- The justice chain per area and month (reports, cases, indictments, judgements,
-- convictions) with the delays between stages. Counts from 1 to 9 are suppressed, and a
-- share or median computed from a suppressed count is too. Department rows and the
-- municipalities of a department belong to it; national rows to national logins.
with

attrition as (

    select * from {{ ref('mart_justice_attrition') }}

),

municipalities as (

    select * from {{ ref('dim_municipality') }}

),

located as (

    select
        attrition.*,
        case
            when attrition.area_level = 'department' then attrition.area_code
            when attrition.area_level = 'municipality' then municipalities.department_code
        end as department_code

    from attrition
    left join municipalities
        on
            attrition.area_level = 'municipality'
            and attrition.area_code = municipalities.municipality_code

),

final as (

    select
        attrition_id,
        cast(month || '-01' as date) as month,
        area_level,
        area_code,
        area_name,
        department_code,
        {{ suppress_small_count('reports') }} as reports,
        {{ suppress_small_count('cases') }} as cases,
        {{ suppress_small_count('indictments') }} as indictments,
        {{ suppress_small_count('judgements') }} as judgements,
        {{ suppress_small_count('convictions') }} as convictions,
        {{ suppress_small_count('cohort_cases_indicted') }} as cohort_cases_indicted,
        {{ suppress_small_count('cohort_cases_convicted') }} as cohort_cases_convicted,
        case
            when
                not {{ is_small_count('cohort_cases_convicted') }}
                and not {{ is_small_count('cases') }}
                then conviction_share
        end as conviction_share,
        {{ suppress_small_count('cases_measured_report_to_case') }}
            as cases_measured_report_to_case,
        case
            when not {{ is_small_count('cases_measured_report_to_case') }}
                then median_days_report_to_case
        end as median_days_report_to_case,
        {{ suppress_small_count('cases_measured_case_to_indictment') }}
            as cases_measured_case_to_indictment,
        case
            when not {{ is_small_count('cases_measured_case_to_indictment') }}
                then median_days_case_to_indictment
        end as median_days_case_to_indictment,
        {{ suppress_small_count('cases_measured_indictment_to_judgement') }}
            as cases_measured_indictment_to_judgement,
        case
            when not {{ is_small_count('cases_measured_indictment_to_judgement') }}
                then median_days_indictment_to_judgement
        end as median_days_indictment_to_judgement

    from located

)

select * from final
