-- One row per prosecution case with the day it reached each stage of the justice funnel
-- (police report registered, case opened, indicted, first judgement, first conviction)
-- and the days between consecutive stages. Read by int_justice_funnel_events,
-- int_indicator_facts__justice_funnel and mart_justice_attrition.
with

cases as (

    select * from {{ ref('fct_prosecution_cases') }}

),

judgements as (

    select * from {{ ref('fct_court_judgements') }}

),

reports as (

    select * from {{ ref('int_justice_reports_registered') }}

),

case_judgements as (

    select
        case_id,
        min(judgement_date) as first_judgement_date,
        min(judgement_date) filter (where is_conviction) as first_conviction_date

    from judgements
    group by case_id

),

staged as (

    select
        cases.case_id,
        cases.municipality_code,
        cases.police_report_number as report_id,
        reports.registered_date as report_registered_date,
        cases.opened_date,
        case
            when cases.is_indicted then coalesce(cases.court_filed_date, cases.decision_date)
        end as indicted_date,
        case_judgements.first_judgement_date,
        case_judgements.first_conviction_date

    from cases
    left join reports
        on cases.police_report_number = reports.report_id
    left join case_judgements
        on cases.case_id = case_judgements.case_id

),

final as (

    select
        case_id,
        municipality_code,
        report_id,
        report_registered_date,
        opened_date,
        indicted_date,
        first_judgement_date,
        first_conviction_date,
        indicted_date is not null as is_indicted,
        first_conviction_date is not null as is_convicted,
        opened_date - report_registered_date as days_report_to_case,
        indicted_date - opened_date as days_case_to_indictment,
        first_judgement_date - indicted_date as days_indictment_to_judgement

    from staged

)

select * from final
