-- The justice funnel per month, nationally, per department and per municipality, with the
-- stages as columns: for the bulletin's funnel chart and BI. Counts and medians are those of
-- the justice indicators in mart_indicators_monthly (same events, same month rules), here
-- also for areas the municipal rows cannot add up to (medians do not add).
with

spine as (

    select * from {{ ref('int_indicator_spine') }}

),

funnel_events as (

    select * from {{ ref('int_justice_funnel_events') }}

),

case_stages as (

    select * from {{ ref('int_justice_case_stages') }}

),

municipalities as (

    select * from {{ ref('int_municipalities') }}

),

-- Every area a row is published for: the country, each department, each municipality.
areas as (

    select distinct
        'national' as area_level,
        'all' as area_code,
        'Nacional' as area_name
    from municipalities

    union all

    select distinct
        'department' as area_level,
        department_code as area_code,
        department_name as area_name
    from municipalities

    union all

    select
        'municipality' as area_level,
        municipality_code as area_code,
        municipality_name as area_name
    from municipalities

),

-- The areas an event counts in: always the country (an unknown municipality, `99999`,
-- included), and its department and municipality when the municipality is known.
memberships as (

    select
        municipalities.municipality_code,
        area.area_level,
        area.area_code

    from municipalities
    cross join lateral (
        values
        ('national', 'all'),
        ('department', municipalities.department_code),
        ('municipality', municipalities.municipality_code)
    ) as area (area_level, area_code)

),

months as (

    select distinct month
    from spine

),

located_events as (

    select
        memberships.area_level,
        memberships.area_code,
        funnel_events.*

    from funnel_events
    inner join memberships
        on funnel_events.municipality_code = memberships.municipality_code

    union all

    select
        'national' as area_level,
        'all' as area_code,
        funnel_events.*

    from funnel_events
    left join municipalities
        on funnel_events.municipality_code = municipalities.municipality_code
    where municipalities.municipality_code is null

),

stages as (

    select
        area_level,
        area_code,
        month,
        count(distinct unit_id) filter (where stage = 'report') as reports,
        count(distinct unit_id) filter (where stage = 'case') as cases,
        count(distinct unit_id) filter (where stage = 'indictment') as indictments,
        count(distinct unit_id) filter (where stage = 'judgement') as judgements,
        count(distinct unit_id) filter (where stage = 'conviction') as convictions,
        count(*) filter (where stage = 'case' and days_from_previous_stage >= 0)
            as cases_measured_report_to_case,
        percentile_cont(0.5) within group (order by days_from_previous_stage) filter (
            where stage = 'case' and days_from_previous_stage >= 0
        ) as median_days_report_to_case,
        count(*) filter (where stage = 'indictment' and days_from_previous_stage >= 0)
            as cases_measured_case_to_indictment,
        percentile_cont(0.5) within group (order by days_from_previous_stage) filter (
            where stage = 'indictment' and days_from_previous_stage >= 0
        ) as median_days_case_to_indictment,
        count(*) filter (where stage = 'judgement' and days_from_previous_stage >= 0)
            as cases_measured_indictment_to_judgement,
        percentile_cont(0.5) within group (order by days_from_previous_stage) filter (
            where stage = 'judgement' and days_from_previous_stage >= 0
        ) as median_days_indictment_to_judgement

    from located_events
    group by 1, 2, 3

),

located_cases as (

    select
        memberships.area_level,
        memberships.area_code,
        case_stages.*

    from case_stages
    inner join memberships
        on case_stages.municipality_code = memberships.municipality_code

    union all

    select
        'national' as area_level,
        'all' as area_code,
        case_stages.*

    from case_stages
    left join municipalities
        on case_stages.municipality_code = municipalities.municipality_code
    where municipalities.municipality_code is null

),

-- Cohort: of the cases opened in the month, how many were indicted and convicted so far.
cohorts as (

    select
        area_level,
        area_code,
        to_char(opened_date, 'YYYY-MM') as month,
        count(*) filter (where is_indicted) as cohort_cases_indicted,
        count(*) filter (where is_convicted) as cohort_cases_convicted

    from located_cases
    group by 1, 2, 3

),

final as (

    select
        areas.area_level || ':' || areas.area_code || ':' || months.month as attrition_id,
        months.month,
        areas.area_level,
        areas.area_code,
        areas.area_name,
        coalesce(stages.reports, 0) as reports,
        coalesce(stages.cases, 0) as cases,
        coalesce(stages.indictments, 0) as indictments,
        coalesce(stages.judgements, 0) as judgements,
        coalesce(stages.convictions, 0) as convictions,
        coalesce(cohorts.cohort_cases_indicted, 0) as cohort_cases_indicted,
        coalesce(cohorts.cohort_cases_convicted, 0) as cohort_cases_convicted,
        {{ safe_ratio('cohorts.cohort_cases_convicted', 'stages.cases') }} as conviction_share,
        coalesce(stages.cases_measured_report_to_case, 0) as cases_measured_report_to_case,
        round(cast(stages.median_days_report_to_case as numeric), 1)
            as median_days_report_to_case,
        coalesce(stages.cases_measured_case_to_indictment, 0)
            as cases_measured_case_to_indictment,
        round(cast(stages.median_days_case_to_indictment as numeric), 1)
            as median_days_case_to_indictment,
        coalesce(stages.cases_measured_indictment_to_judgement, 0)
            as cases_measured_indictment_to_judgement,
        round(cast(stages.median_days_indictment_to_judgement as numeric), 1)
            as median_days_indictment_to_judgement

    from areas
    cross join months
    left join stages
        on
            areas.area_level = stages.area_level
            and areas.area_code = stages.area_code
            and months.month = stages.month
    left join cohorts
        on
            areas.area_level = cohorts.area_level
            and areas.area_code = cohorts.area_code
            and months.month = cohorts.month

)

select * from final
