-- Justice flow and attrition per municipality and month: how many police reports, cases,
-- indictments and convictions each month brings (each stage counted in the month it was
-- reached), the share of the month's new cases convicted so far, and the median days
-- between stages. Definitions: seeds/ref_indicators.csv.
{%- set medians = [
    ('justice_median_days_report_to_case', 'case'),
    ('justice_median_days_case_to_indictment', 'indictment'),
    ('justice_median_days_indictment_to_judgement', 'judgement'),
] %}

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

stage_counts as (

    select
        municipality_code,
        month,
        count(distinct unit_id) filter (where stage = 'report') as reports,
        count(distinct unit_id) filter (where stage = 'case') as cases,
        count(distinct unit_id) filter (where stage = 'indictment') as indictments,
        count(distinct unit_id) filter (where stage = 'conviction') as convictions

    from funnel_events
    group by 1, 2

),

-- A stage's delay is measured in the month the later stage was reached; a negative delay
-- (a case opened before its report was registered) is a data error and is left out.
stage_delays as (

    select
        stage,
        municipality_code,
        month,
        count(*) as measured,
        round(
            cast(
                percentile_cont(0.5) within group (order by days_from_previous_stage) as numeric
            ),
            1
        ) as median_days

    from funnel_events
    where days_from_previous_stage >= 0
    group by 1, 2, 3

),

-- Cohort: the cases opened in the month, and how many of them have a conviction so far.
cohorts as (

    select
        municipality_code,
        to_char(opened_date, 'YYYY-MM') as month,
        count(*) as cases_opened,
        count(*) filter (where is_convicted) as cases_convicted

    from case_stages
    group by 1, 2

),

cells as (

    select
        spine.municipality_code,
        spine.month,
        coalesce(stage_counts.reports, 0) as reports,
        coalesce(stage_counts.cases, 0) as cases,
        coalesce(stage_counts.indictments, 0) as indictments,
        coalesce(stage_counts.convictions, 0) as convictions,
        coalesce(cohorts.cases_opened, 0) as cases_opened,
        coalesce(cohorts.cases_convicted, 0) as cases_convicted

    from spine
    left join stage_counts
        on
            spine.municipality_code = stage_counts.municipality_code
            and spine.month = stage_counts.month
    left join cohorts
        on spine.municipality_code = cohorts.municipality_code and spine.month = cohorts.month

),

counts as (

    {{ indicator_rows('cells', [
        ('justice_funnel_reports', 'reports', none, 'count'),
        ('justice_funnel_cases', 'cases', none, 'count'),
        ('justice_funnel_indictments', 'indictments', none, 'count'),
        ('justice_funnel_convictions', 'convictions', none, 'count'),
        ('justice_conviction_share', 'cases_convicted', 'cases_opened', 'share'),
    ], 'justice') }}

),

-- value = the median; numerator holds it too (0 when nothing was measured), denominator
-- the number of cases measured.
medians as (
    {% for indicator_code, stage in medians %}
        select
            '{{ indicator_code }}' as indicator_code,
            spine.municipality_code,
            spine.month,
            'all' as sex,
            'all' as age_group,
            coalesce(stage_delays.median_days, 0) as numerator,
            cast(coalesce(stage_delays.measured, 0) as numeric) as denominator,
            stage_delays.median_days as value,
            'justice' as source

        from spine
        left join stage_delays
            on
                spine.municipality_code = stage_delays.municipality_code
                and spine.month = stage_delays.month
                and stage_delays.stage = '{{ stage }}'
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (

    select * from counts
    union all
    select * from medians

)

select * from final
