-- The justice funnel as a fact the indicator definitions count (interface
-- `justice_funnel`): one row per unit reaching a stage (int_justice_funnel_events), in the
-- common shape, listed by the fact row it stands for: a police report by its first victim
-- row (the smallest key), a conviction by the case's first conviction judgement, the other
-- stages by their prosecution case. `is_convicted` is the case's (cohort shares).
with

funnel_events as (

    select * from {{ ref('int_justice_funnel_events') }}

),

crime_reports as (

    select * from {{ ref('fct_crime_reports') }}

),

registered_reports as (

    select * from {{ ref('int_justice_reports_registered') }}

),

prosecution_cases as (

    select * from {{ ref('fct_prosecution_cases') }}

),

court_judgements as (

    select * from {{ ref('fct_court_judgements') }}

),

case_stages as (

    select * from {{ ref('int_justice_case_stages') }}

),

-- A report's first victim row (its smallest key), found by key: registered_reports keeps it.
report_rows as (

    select
        registered_reports.report_id,
        cast(crime_reports.report_victim_id as text) as report_victim_id,
        crime_reports.batch_id,
        crime_reports.source_file,
        crime_reports.source_row,
        crime_reports.file_sha256

    from registered_reports
    inner join crime_reports
        on registered_reports.first_report_victim_id = crime_reports.report_victim_id

),

first_convictions as (

    select
        case_id,
        judgement_id,
        batch_id,
        source_file,
        source_row,
        file_sha256,
        row_number() over (
            partition by case_id order by judgement_date, judgement_id
        ) as pick

    from court_judgements
    where is_conviction

),

final as (

    select
        case funnel_events.stage
            when 'report' then 'fct_crime_reports'
            when 'conviction' then 'fct_court_judgements'
            else 'fct_prosecution_cases'
        end as fact_model,
        coalesce(
            report_rows.report_victim_id,
            cast(first_convictions.judgement_id as text),
            cast(prosecution_cases.case_id as text),
            cast(funnel_events.unit_id as text)
        ) as fact_key,
        cast(funnel_events.unit_id as text) as counted_id,
        funnel_events.municipality_code,
        funnel_events.month,
        funnel_events.stage,
        funnel_events.days_from_previous_stage,
        coalesce(case_stages.is_convicted, false) as is_convicted,
        coalesce(report_rows.batch_id, first_convictions.batch_id, prosecution_cases.batch_id)
            as batch_id,
        coalesce(
            report_rows.source_file, first_convictions.source_file, prosecution_cases.source_file
        ) as source_file,
        coalesce(
            report_rows.source_row, first_convictions.source_row, prosecution_cases.source_row
        ) as source_row,
        coalesce(
            report_rows.file_sha256, first_convictions.file_sha256, prosecution_cases.file_sha256
        ) as file_sha256

    from funnel_events
    left join report_rows
        on
            funnel_events.stage = 'report'
            and funnel_events.unit_id = report_rows.report_id
    left join first_convictions
        on
            funnel_events.stage = 'conviction'
            and funnel_events.unit_id = first_convictions.case_id
            and first_convictions.pick = 1
    left join prosecution_cases
        on
            funnel_events.stage in ('case', 'indictment', 'judgement')
            and funnel_events.unit_id = prosecution_cases.case_id
    left join case_stages
        on
            funnel_events.stage <> 'report'
            and funnel_events.unit_id = case_stages.case_id

)

select * from final
