-- The justice chain per area and month (reports, cases, indictments, judgements,
-- convictions) with the delays between stages. Counts from 1 to 9 are suppressed, with the
-- complementary cells that would let one be derived from its department's or the nation's
-- total (macro complementary_suppression), and a share or median computed from a suppressed
-- count is too. Department rows and the municipalities of a department belong to it;
-- national rows to national logins.
{%- set counts = [
    'reports', 'cases', 'indictments', 'judgements', 'convictions',
    'cohort_cases_indicted', 'cohort_cases_convicted',
    'cases_measured_report_to_case', 'cases_measured_case_to_indictment',
    'cases_measured_indictment_to_judgement',
] %}

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
        end as department_code,
        -- The total each row adds up to, and the key its own members name.
        case attrition.area_level
            when 'municipality' then 'department:' || municipalities.department_code
            when 'department' then 'national'
        end as parent_total,
        case attrition.area_level
            when 'national' then 'national'
            when 'department' then 'department:' || attrition.area_code
        end as own_total

    from attrition
    left join municipalities
        on
            attrition.area_level = 'municipality'
            and attrition.area_code = municipalities.municipality_code

),

protected as (

    {{ complementary_suppression(
        'located', counts, 'attrition_id', 'parent_total', 'own_total', 'month'
    ) }}

),

final as (

    select
        attrition_id,
        cast(month || '-01' as date) as month,
        area_level,
        area_code,
        area_name,
        department_code,
        {{ unless_hidden('reports') }} as reports,
        {{ unless_hidden('cases') }} as cases,
        {{ unless_hidden('indictments') }} as indictments,
        {{ unless_hidden('judgements') }} as judgements,
        {{ unless_hidden('convictions') }} as convictions,
        {{ unless_hidden('cohort_cases_indicted') }} as cohort_cases_indicted,
        {{ unless_hidden('cohort_cases_convicted') }} as cohort_cases_convicted,
        case
            when
                not hide_cohort_cases_convicted
                and not hide_cases
                then conviction_share
        end as conviction_share,
        {{ unless_hidden('cases_measured_report_to_case') }}
            as cases_measured_report_to_case,
        case
            when not hide_cases_measured_report_to_case
                then median_days_report_to_case
        end as median_days_report_to_case,
        {{ unless_hidden('cases_measured_case_to_indictment') }}
            as cases_measured_case_to_indictment,
        case
            when not hide_cases_measured_case_to_indictment
                then median_days_case_to_indictment
        end as median_days_case_to_indictment,
        {{ unless_hidden('cases_measured_indictment_to_judgement') }}
            as cases_measured_indictment_to_judgement,
        case
            when not hide_cases_measured_indictment_to_judgement
                then median_days_indictment_to_judgement
        end as median_days_indictment_to_judgement

    from protected

)

select * from final
