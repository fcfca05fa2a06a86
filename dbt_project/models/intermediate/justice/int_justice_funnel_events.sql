-- The justice funnel as dated events, one row per unit reaching a stage: every police
-- report when first registered, every case when opened, indicted, first judged and first
-- convicted, with the days since the previous stage (null when it is unknown). Indicators
-- and the attrition mart count these rows by month of `event_date`.
with

reports as (

    select * from {{ ref('int_justice_reports_registered') }}

),

case_stages as (

    select * from {{ ref('int_justice_case_stages') }}

),

events as (

    select
        'report' as stage,
        1 as stage_order,
        report_id as unit_id,
        municipality_code,
        registered_date as event_date,
        cast(null as integer) as days_from_previous_stage

    from reports

    union all

    select
        'case' as stage,
        2 as stage_order,
        case_id as unit_id,
        municipality_code,
        opened_date as event_date,
        days_report_to_case as days_from_previous_stage

    from case_stages

    union all

    select
        'indictment' as stage,
        3 as stage_order,
        case_id as unit_id,
        municipality_code,
        indicted_date as event_date,
        days_case_to_indictment as days_from_previous_stage

    from case_stages
    where indicted_date is not null

    union all

    select
        'judgement' as stage,
        4 as stage_order,
        case_id as unit_id,
        municipality_code,
        first_judgement_date as event_date,
        days_indictment_to_judgement as days_from_previous_stage

    from case_stages
    where first_judgement_date is not null

    union all

    select
        'conviction' as stage,
        5 as stage_order,
        case_id as unit_id,
        municipality_code,
        first_conviction_date as event_date,
        first_conviction_date - first_judgement_date as days_from_previous_stage

    from case_stages
    where first_conviction_date is not null

),

final as (

    select
        stage || ':' || unit_id as funnel_event_id,
        stage,
        stage_order,
        unit_id,
        municipality_code,
        event_date,
        to_char(event_date, 'YYYY-MM') as month,
        days_from_previous_stage

    from events
    where event_date is not null

)

select * from final
