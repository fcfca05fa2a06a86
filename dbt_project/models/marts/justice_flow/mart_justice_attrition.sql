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

-- Per municipality and month, what adds up: every (stage, unit) is one funnel event
-- (`funnel_event_id` is unique), so a stage's units in an area are the sum of its
-- municipalities' events, and so are the cohorts of the cases opened there. Only the medians
-- need the events themselves, and only the measured delays of cases.
municipal_events as (

    select
        municipality_code,
        month,
        count(*) filter (where stage = 'report') as reports,
        count(*) filter (where stage = 'case') as cases,
        count(*) filter (where stage = 'indictment') as indictments,
        count(*) filter (where stage = 'judgement') as judgements,
        count(*) filter (where stage = 'conviction') as convictions,
        count(*) filter (where stage = 'case' and days_from_previous_stage >= 0)
            as cases_measured_report_to_case,
        count(*) filter (where stage = 'indictment' and days_from_previous_stage >= 0)
            as cases_measured_case_to_indictment,
        count(*) filter (where stage = 'judgement' and days_from_previous_stage >= 0)
            as cases_measured_indictment_to_judgement,
        0 as cohort_cases_indicted,
        0 as cohort_cases_convicted

    from funnel_events
    group by 1, 2

),

-- Cohort: of the cases opened in the month, how many were indicted and convicted so far.
municipal_cohorts as (

    select
        municipality_code,
        to_char(opened_date, 'YYYY-MM') as month,
        0 as reports,
        0 as cases,
        0 as indictments,
        0 as judgements,
        0 as convictions,
        0 as cases_measured_report_to_case,
        0 as cases_measured_case_to_indictment,
        0 as cases_measured_indictment_to_judgement,
        count(*) filter (where is_indicted) as cohort_cases_indicted,
        count(*) filter (where is_convicted) as cohort_cases_convicted

    from case_stages
    group by 1, 2

),

municipal as (

    select * from municipal_events
    union all
    select * from municipal_cohorts

),

measured_delays as (

    select
        municipality_code,
        month,
        stage,
        days_from_previous_stage

    from funnel_events
    where
        stage in ('case', 'indictment', 'judgement')
        and days_from_previous_stage >= 0

),

located_municipal as (

    {{ located_in_areas('municipal') }}

),

located_delays as (

    {{ located_in_areas('measured_delays') }}

),

{%- set additive = [
    'reports', 'cases', 'indictments', 'judgements', 'convictions',
    'cases_measured_report_to_case', 'cases_measured_case_to_indictment',
    'cases_measured_indictment_to_judgement', 'cohort_cases_indicted', 'cohort_cases_convicted',
] %}

counts as (

    select
        area_level,
        area_code,
        month,
        {%- for column in additive %}
            cast(sum({{ column }}) as bigint) as {{ column }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from located_municipal
    group by 1, 2, 3

),

medians as (

    select
        area_level,
        area_code,
        month,
        percentile_cont(0.5) within group (order by days_from_previous_stage) filter (
            where stage = 'case'
        ) as median_days_report_to_case,
        percentile_cont(0.5) within group (order by days_from_previous_stage) filter (
            where stage = 'indictment'
        ) as median_days_case_to_indictment,
        percentile_cont(0.5) within group (order by days_from_previous_stage) filter (
            where stage = 'judgement'
        ) as median_days_indictment_to_judgement

    from located_delays
    group by 1, 2, 3

),

final as (

    select
        areas.area_level || ':' || areas.area_code || ':' || months.month as attrition_id,
        months.month,
        areas.area_level,
        areas.area_code,
        areas.area_name,
        coalesce(counts.reports, 0) as reports,
        coalesce(counts.cases, 0) as cases,
        coalesce(counts.indictments, 0) as indictments,
        coalesce(counts.judgements, 0) as judgements,
        coalesce(counts.convictions, 0) as convictions,
        coalesce(counts.cohort_cases_indicted, 0) as cohort_cases_indicted,
        coalesce(counts.cohort_cases_convicted, 0) as cohort_cases_convicted,
        {{ safe_ratio('counts.cohort_cases_convicted', 'counts.cases') }} as conviction_share,
        coalesce(counts.cases_measured_report_to_case, 0) as cases_measured_report_to_case,
        round(cast(medians.median_days_report_to_case as numeric), 1)
            as median_days_report_to_case,
        coalesce(counts.cases_measured_case_to_indictment, 0)
            as cases_measured_case_to_indictment,
        round(cast(medians.median_days_case_to_indictment as numeric), 1)
            as median_days_case_to_indictment,
        coalesce(counts.cases_measured_indictment_to_judgement, 0)
            as cases_measured_indictment_to_judgement,
        round(cast(medians.median_days_indictment_to_judgement as numeric), 1)
            as median_days_indictment_to_judgement

    from areas
    cross join months
    left join counts
        on
            areas.area_level = counts.area_level
            and areas.area_code = counts.area_code
            and months.month = counts.month
    left join medians
        on
            areas.area_level = medians.area_level
            and areas.area_code = medians.area_code
            and months.month = medians.month

)

select * from final
