-- Row-level provenance of every indicator cell: one row per fact row behind the cell, with
-- the batch, file and row of the source it was loaded from. Each family's part mirrors its
-- `int_indicators__<family>` model exactly, so a cell recomputes from its rows alone:
-- * counts, rates and shares (police, health, reconciled, justice funnel): the weights sum
--   to the numerator; indicators counting distinct reports (or detentions, complaints,
--   incidents, cases) keep one row per distinct id, the fact row with the smallest key;
-- * cohort and survey shares (justice_conviction_share, dark_figure__*,
--   adjusted_incidence_rate__*): the rows also carry `denominator_weight` (1 per case
--   opened; the expansion factor per respondent), which sums to the denominator;
-- * medians (justice_median_days_*): one row per case measured, its days in `measure`;
--   the numerator is their median and the denominator their number;
-- * reporting coverage (reporting_gap__*, reporting_coverage_share): a gap is an absence,
--   so its rows are the source's record counts (`measure`) per month of the window (the 6
--   months before and the month itself), keyed by month, for each usual source of a cell.
-- `marts.explain_indicator()` reads it; `observatorio explain --verify` recomputes from it.
{{ config(
    indexes=[{'columns': ['indicator_code', 'municipality_code', 'month']}],
    post_hook="{{ create_explain_indicator_function() }}",
) }}

with

spine as (

    select * from {{ ref('int_indicator_spine') }}

),

crime_reports as (

    select * from {{ ref('fct_crime_reports') }}

),

violent_deaths as (

    select * from {{ ref('fct_violent_deaths') }}

),

detentions as (

    select * from {{ ref('fct_detentions') }}

),

police_complaints as (

    select * from {{ ref('fct_police_complaints') }}

),

use_of_force as (

    select * from {{ ref('fct_use_of_force') }}

),

homicide_victims as (

    select * from {{ ref('fct_homicide_victims') }}

),

prosecution_cases as (

    select * from {{ ref('fct_prosecution_cases') }}

),

court_judgements as (

    select * from {{ ref('fct_court_judgements') }}

),

survey_victimisation as (

    select * from {{ ref('fct_survey_victimisation') }}

),

injury_admissions as (

    select * from {{ ref('fct_injury_admissions') }}

),

reports_registered as (

    select * from {{ ref('int_justice_reports_registered') }}

),

case_stages as (

    select * from {{ ref('int_justice_case_stages') }}

),

funnel_events as (

    select * from {{ ref('int_justice_funnel_events') }}

),

indicators as (

    select * from {{ ref('ref_indicators') }}

),

-- A reconciled victim is loaded from no single batch: it keeps the provenance of its forensic
-- record, else of its police record (null when it has neither, e.g. hospital-only victims).
victim_provenance as (

    select
        homicide_victims.*,
        coalesce(by_forensic.batch_id, by_police.batch_id) as batch_id,
        coalesce(by_forensic.source_file, by_police.source_file) as source_file,
        coalesce(by_forensic.source_row, by_police.source_row) as source_row,
        coalesce(by_forensic.file_sha256, by_police.file_sha256) as file_sha256

    from homicide_victims
    -- The register may prefix a record id with its system; an equality on the stripped id
    -- (not `in (id, prefix || id)`, an OR the planner can only nest-loop) keeps it a hash join.
    left join violent_deaths as by_forensic
        on
            regexp_replace(homicide_victims.forensic_record_id, '^forensic:', '')
            = by_forensic.forensic_record_id
    left join crime_reports as by_police
        on
            regexp_replace(homicide_victims.police_record_id, '^police:', '')
            = by_police.report_victim_id

),

-- Which rows of which fact each indicator counts, as in its family model:
-- `count(*) filter (where <filter>)`, `count(distinct <id>) filter (where <filter>)`, or
-- `sum(persons_killed)` (weight).
indicator_filters as (

    select * from (
        values
        ('homicide_count_police', 'fct_crime_reports', 'intentional_homicide', false),
        ('homicide_rate_police', 'fct_crime_reports', 'intentional_homicide', false),
        ('homicide_police_health_ratio', 'fct_crime_reports', 'intentional_homicide', false),
        ('femicide_count', 'fct_crime_reports', 'femicide', false),
        ('femicide_rate', 'fct_crime_reports', 'femicide', false),
        ('intrafamily_violence_reports', 'fct_crime_reports', 'intrafamily_report', true),
        ('intrafamily_violence_rate', 'fct_crime_reports', 'intrafamily_report', true),
        ('sexual_violence_reports', 'fct_crime_reports', 'sexual_report', true),
        ('sexual_violence_rate', 'fct_crime_reports', 'sexual_report', true),
        ('homicide_count_health', 'fct_violent_deaths', 'homicide', false),
        ('homicide_rate_health', 'fct_violent_deaths', 'homicide', false),
        ('legal_intervention_deaths', 'fct_violent_deaths', 'legal_intervention', false),
        ('undetermined_intent_share', 'fct_violent_deaths', 'undetermined', false),
        ('detentions_count', 'fct_detentions', 'all', true),
        ('detentions_rate', 'fct_detentions', 'all', true),
        ('police_complaints_count', 'fct_police_complaints', 'all', true),
        ('use_of_force_incidents', 'fct_use_of_force', 'all', true),
        ('persons_killed_by_police', 'fct_use_of_force', 'persons_killed', false),
        ('homicide_reconciled', 'fct_homicide_victims', 'reconciled_homicide', false),
        ('homicide_rate_reconciled', 'fct_homicide_victims', 'reconciled_homicide', false),
        ('homicide_confirmed_by_two_sources', 'fct_homicide_victims', 'confirmed_homicide', false)
    ) as filters (indicator_code, fact_model, filter_name, counts_distinct)

),

-- Every fact row in one shape: its cell, the id it is counted by and its filter flags.
fact_rows as (

    select
        'fct_crime_reports' as fact_model,
        cast(crime_reports.report_victim_id as text) as fact_key,
        cast(crime_reports.report_id as text) as counted_id,
        crime_reports.municipality_code,
        to_char(crime_reports.incident_date, 'YYYY-MM') as month,
        coalesce(crime_reports.is_intentional_homicide, false) as is_intentional_homicide,
        coalesce(crime_reports.is_femicide, false) as is_femicide,
        coalesce(
            crime_reports.is_intrafamily and crime_reports.iccs_level_1_code in ('01', '02', '03'),
            false
        ) as is_intrafamily_report,
        coalesce(crime_reports.iccs_level_1_code = '03', false) as is_sexual_report,
        false as is_homicide,
        false as is_legal_intervention,
        false as is_undetermined,
        false as is_confirmed_homicide,
        0 as persons_killed,
        crime_reports.batch_id,
        crime_reports.source_file,
        crime_reports.source_row,
        crime_reports.file_sha256

    from crime_reports

    union all

    select
        'fct_violent_deaths' as fact_model,
        cast(violent_deaths.forensic_record_id as text) as fact_key,
        cast(violent_deaths.forensic_record_id as text) as counted_id,
        violent_deaths.municipality_code,
        to_char(violent_deaths.death_date, 'YYYY-MM') as month,
        false as is_intentional_homicide,
        false as is_femicide,
        false as is_intrafamily_report,
        false as is_sexual_report,
        coalesce(violent_deaths.is_homicide, false) as is_homicide,
        coalesce(violent_deaths.is_legal_intervention, false) as is_legal_intervention,
        coalesce(violent_deaths.intent = 'undetermined', false) as is_undetermined,
        false as is_confirmed_homicide,
        0 as persons_killed,
        violent_deaths.batch_id,
        violent_deaths.source_file,
        violent_deaths.source_row,
        violent_deaths.file_sha256

    from violent_deaths

    union all

    select
        'fct_detentions' as fact_model,
        cast(detentions.detention_id as text) as fact_key,
        cast(detentions.detention_id as text) as counted_id,
        detentions.municipality_code,
        to_char(detentions.detention_date, 'YYYY-MM') as month,
        false as is_intentional_homicide,
        false as is_femicide,
        false as is_intrafamily_report,
        false as is_sexual_report,
        false as is_homicide,
        false as is_legal_intervention,
        false as is_undetermined,
        false as is_confirmed_homicide,
        0 as persons_killed,
        detentions.batch_id,
        detentions.source_file,
        detentions.source_row,
        detentions.file_sha256

    from detentions

    union all

    select
        'fct_police_complaints' as fact_model,
        cast(police_complaints.complaint_id as text) as fact_key,
        cast(police_complaints.complaint_id as text) as counted_id,
        police_complaints.municipality_code,
        to_char(police_complaints.registered_date, 'YYYY-MM') as month,
        false as is_intentional_homicide,
        false as is_femicide,
        false as is_intrafamily_report,
        false as is_sexual_report,
        false as is_homicide,
        false as is_legal_intervention,
        false as is_undetermined,
        false as is_confirmed_homicide,
        0 as persons_killed,
        police_complaints.batch_id,
        police_complaints.source_file,
        police_complaints.source_row,
        police_complaints.file_sha256

    from police_complaints

    union all

    select
        'fct_use_of_force' as fact_model,
        cast(use_of_force.incident_id as text) as fact_key,
        cast(use_of_force.incident_id as text) as counted_id,
        use_of_force.municipality_code,
        to_char(use_of_force.incident_date, 'YYYY-MM') as month,
        false as is_intentional_homicide,
        false as is_femicide,
        false as is_intrafamily_report,
        false as is_sexual_report,
        false as is_homicide,
        false as is_legal_intervention,
        false as is_undetermined,
        false as is_confirmed_homicide,
        coalesce(use_of_force.persons_killed, 0) as persons_killed,
        use_of_force.batch_id,
        use_of_force.source_file,
        use_of_force.source_row,
        use_of_force.file_sha256

    from use_of_force

    union all

    select
        'fct_homicide_victims' as fact_model,
        cast(victim_provenance.victim_id as text) as fact_key,
        cast(victim_provenance.victim_id as text) as counted_id,
        victim_provenance.municipality_code,
        victim_provenance.month,
        false as is_intentional_homicide,
        false as is_femicide,
        false as is_intrafamily_report,
        false as is_sexual_report,
        -- mart_homicide_reconciliation: reconciled = is_homicide, confirmed = final_status.
        coalesce(victim_provenance.is_homicide, false) as is_homicide,
        false as is_legal_intervention,
        false as is_undetermined,
        coalesce(victim_provenance.final_status = 'confirmed_homicide', false)
            as is_confirmed_homicide,
        0 as persons_killed,
        victim_provenance.batch_id,
        victim_provenance.source_file,
        victim_provenance.source_row,
        victim_provenance.file_sha256

    from victim_provenance

),

counted as (

    select
        indicator_filters.indicator_code,
        indicator_filters.counts_distinct,
        fact_rows.fact_model,
        fact_rows.fact_key,
        fact_rows.counted_id,
        fact_rows.municipality_code,
        fact_rows.month,
        fact_rows.batch_id,
        fact_rows.source_file,
        fact_rows.source_row,
        fact_rows.file_sha256,
        case
            when indicator_filters.filter_name = 'persons_killed' then fact_rows.persons_killed
            else 1
        end as weight

    from fact_rows
    inner join indicator_filters
        on
            fact_rows.fact_model = indicator_filters.fact_model
            and case indicator_filters.filter_name
                when 'all' then true
                when 'intentional_homicide' then fact_rows.is_intentional_homicide
                when 'femicide' then fact_rows.is_femicide
                when 'intrafamily_report' then fact_rows.is_intrafamily_report
                when 'sexual_report' then fact_rows.is_sexual_report
                when 'homicide' then fact_rows.is_homicide
                when 'legal_intervention' then fact_rows.is_legal_intervention
                when 'undetermined' then fact_rows.is_undetermined
                when 'persons_killed' then fact_rows.persons_killed > 0
                when 'reconciled_homicide' then fact_rows.is_homicide
                when 'confirmed_homicide' then fact_rows.is_confirmed_homicide
                else false
            end
    -- count(distinct <id>) ignores null ids.
    where not (indicator_filters.counts_distinct and fact_rows.counted_id is null)

),

-- One row per distinct id where the family counts distinct ids: the smallest fact key.
ranked as (

    select
        counted.*,
        row_number() over (
            partition by
                counted.indicator_code,
                counted.municipality_code,
                counted.month,
                case when counted.counts_distinct then counted.counted_id else counted.fact_key end
            order by counted.fact_key, counted.batch_id, counted.source_row
        ) as pick

    from counted

),

-- The police, health and reconciled families: a weight per counted row, no denominator rows.
traced_counts as (

    select
        ranked.indicator_code,
        ranked.municipality_code,
        ranked.month,
        ranked.fact_model,
        ranked.fact_key,
        ranked.counted_id,
        cast(ranked.weight as numeric) as weight,
        cast(null as numeric) as denominator_weight,
        cast(null as numeric) as measure,
        cast(ranked.batch_id as text) as batch_id,
        cast(ranked.source_file as text) as source_file,
        cast(ranked.source_row as bigint) as source_row,
        cast(ranked.file_sha256 as text) as file_sha256

    from ranked
    where ranked.pick = 1

),

-- Justice (int_indicators__justice). A police report is listed by its first victim row
-- (the smallest key), a conviction by the case's first conviction judgement.
report_rows as (

    select
        crime_reports.report_id,
        cast(crime_reports.report_victim_id as text) as report_victim_id,
        crime_reports.batch_id,
        crime_reports.source_file,
        crime_reports.source_row,
        crime_reports.file_sha256,
        row_number() over (
            partition by crime_reports.report_id order by crime_reports.report_victim_id
        ) as pick

    from crime_reports

),

first_convictions as (

    select
        court_judgements.case_id,
        court_judgements.judgement_id,
        court_judgements.batch_id,
        court_judgements.source_file,
        court_judgements.source_row,
        court_judgements.file_sha256,
        row_number() over (
            partition by court_judgements.case_id
            order by court_judgements.judgement_date, court_judgements.judgement_id
        ) as pick

    from court_judgements
    where court_judgements.is_conviction

),

-- Funnel counts: count(distinct unit_id) per stage, by month the stage was reached.
funnel_rows as (

    select
        'justice_funnel_' || case funnel_events.stage
            when 'report' then 'reports'
            when 'case' then 'cases'
            when 'indictment' then 'indictments'
            else 'convictions'
        end as indicator_code,
        funnel_events.municipality_code,
        funnel_events.month,
        case funnel_events.stage
            when 'report' then 'fct_crime_reports'
            when 'conviction' then 'fct_court_judgements'
            else 'fct_prosecution_cases'
        end as fact_model,
        coalesce(
            report_rows.report_victim_id,
            first_convictions.judgement_id,
            prosecution_cases.case_id,
            cast(funnel_events.unit_id as text)
        ) as fact_key,
        cast(funnel_events.unit_id as text) as counted_id,
        cast(1 as numeric) as weight,
        cast(null as numeric) as denominator_weight,
        cast(null as numeric) as measure,
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
            and report_rows.pick = 1
    left join first_convictions
        on
            funnel_events.stage = 'conviction'
            and funnel_events.unit_id = first_convictions.case_id
            and first_convictions.pick = 1
    left join prosecution_cases
        on
            funnel_events.stage in ('case', 'indictment')
            and funnel_events.unit_id = prosecution_cases.case_id
    where
        funnel_events.stage in ('report', 'case', 'indictment', 'conviction')
        and funnel_events.unit_id is not null

),

-- Conviction share: every case of the month's cohort counts in the denominator, the
-- convicted ones in the numerator too.
cohort_rows as (

    select
        'justice_conviction_share' as indicator_code,
        case_stages.municipality_code,
        to_char(case_stages.opened_date, 'YYYY-MM') as month,
        'fct_prosecution_cases' as fact_model,
        cast(case_stages.case_id as text) as fact_key,
        cast(case_stages.case_id as text) as counted_id,
        cast(case when case_stages.is_convicted then 1 else 0 end as numeric) as weight,
        cast(1 as numeric) as denominator_weight,
        cast(null as numeric) as measure,
        prosecution_cases.batch_id,
        prosecution_cases.source_file,
        prosecution_cases.source_row,
        prosecution_cases.file_sha256

    from case_stages
    left join prosecution_cases
        on case_stages.case_id = prosecution_cases.case_id

),

-- Medians: every case measured (non-negative delay), its days in `measure`.
delay_rows as (

    select
        'justice_median_days_' || case funnel_events.stage
            when 'case' then 'report_to_case'
            when 'indictment' then 'case_to_indictment'
            else 'indictment_to_judgement'
        end as indicator_code,
        funnel_events.municipality_code,
        funnel_events.month,
        'fct_prosecution_cases' as fact_model,
        cast(funnel_events.unit_id as text) as fact_key,
        cast(funnel_events.unit_id as text) as counted_id,
        cast(0 as numeric) as weight,
        cast(1 as numeric) as denominator_weight,
        cast(funnel_events.days_from_previous_stage as numeric) as measure,
        prosecution_cases.batch_id,
        prosecution_cases.source_file,
        prosecution_cases.source_row,
        prosecution_cases.file_sha256

    from funnel_events
    left join prosecution_cases
        on funnel_events.unit_id = prosecution_cases.case_id
    where
        funnel_events.stage in ('case', 'indictment', 'judgement')
        and funnel_events.days_from_previous_stage >= 0

),

-- Survey (int_indicators__survey): the respondents of the municipality and survey year,
-- listed in every month of that year, each with its expansion factor.
survey_rows_by_month as (

    select
        spine.month,
        survey_victimisation.*

    from survey_victimisation
    inner join spine
        on
            survey_victimisation.municipality_code = spine.municipality_code
            and survey_victimisation.survey_year = extract(year from spine.month_start)
    where survey_victimisation.weight is not null

),

-- Dark figure: the victims (denominator: their weights), reported ones in the numerator.
-- Adjusted incidence: all respondents (denominator), victims in the numerator.
survey_rows as (

    select
        'dark_figure__' || crime_type as indicator_code,
        municipality_code,
        month,
        'fct_survey_victimisation' as fact_model,
        cast(respondent_crime_id as text) as fact_key,
        cast(respondent_id as text) as counted_id,
        cast(case when reported_to_police then weight else 0 end as numeric) as weight,
        cast(weight as numeric) as denominator_weight,
        cast(null as numeric) as measure,
        batch_id,
        source_file,
        source_row,
        file_sha256

    from survey_rows_by_month
    where was_victim

    union all

    select
        'adjusted_incidence_rate__' || crime_type as indicator_code,
        municipality_code,
        month,
        'fct_survey_victimisation' as fact_model,
        cast(respondent_crime_id as text) as fact_key,
        cast(respondent_id as text) as counted_id,
        cast(case when was_victim then weight else 0 end as numeric) as weight,
        cast(weight as numeric) as denominator_weight,
        cast(null as numeric) as measure,
        batch_id,
        source_file,
        source_row,
        file_sha256

    from survey_rows_by_month

),

-- Reporting coverage (int_indicators__coverage): each source's records per month, by the
-- date it registers them, from the model the coverage family counts.
record_counts as (

    select
        'police_reports' as reporting_source,
        'int_justice_reports_registered' as fact_model,
        municipality_code,
        to_char(registered_date, 'YYYY-MM') as month,
        count(*) as records
    from reports_registered
    group by 1, 2, 3, 4

    union all

    select
        'detentions' as reporting_source,
        'fct_detentions' as fact_model,
        municipality_code,
        to_char(detention_date, 'YYYY-MM') as month,
        count(*) as records
    from detentions
    group by 1, 2, 3, 4

    union all

    select
        'police_complaints' as reporting_source,
        'fct_police_complaints' as fact_model,
        municipality_code,
        to_char(registered_date, 'YYYY-MM') as month,
        count(*) as records
    from police_complaints
    group by 1, 2, 3, 4

    union all

    select
        'use_of_force' as reporting_source,
        'fct_use_of_force' as fact_model,
        municipality_code,
        to_char(incident_date, 'YYYY-MM') as month,
        count(*) as records
    from use_of_force
    group by 1, 2, 3, 4

    union all

    select
        'forensic_deaths' as reporting_source,
        'fct_violent_deaths' as fact_model,
        municipality_code,
        to_char(death_date, 'YYYY-MM') as month,
        count(*) as records
    from violent_deaths
    group by 1, 2, 3, 4

    union all

    select
        'hospital_admissions' as reporting_source,
        'fct_injury_admissions' as fact_model,
        municipality_code,
        to_char(admission_date, 'YYYY-MM') as month,
        count(*) as records
    from injury_admissions
    group by 1, 2, 3, 4

    union all

    select
        'prosecution_cases' as reporting_source,
        'fct_prosecution_cases' as fact_model,
        municipality_code,
        to_char(opened_date, 'YYYY-MM') as month,
        count(*) as records
    from prosecution_cases
    group by 1, 2, 3, 4

),

coverage_sources as (

    select
        reporting_source,
        fact_model
    from (
        values
        ('police_reports', 'int_justice_reports_registered'),
        ('detentions', 'fct_detentions'),
        ('police_complaints', 'fct_police_complaints'),
        ('use_of_force', 'fct_use_of_force'),
        ('forensic_deaths', 'fct_violent_deaths'),
        ('hospital_admissions', 'fct_injury_admissions'),
        ('prosecution_cases', 'fct_prosecution_cases')
    ) as listed (reporting_source, fact_model)

),

coverage_grid as (

    select
        spine.municipality_code,
        spine.month,
        spine.month_start,
        coverage_sources.reporting_source,
        coverage_sources.fact_model,
        coalesce(record_counts.records, 0) as records

    from spine
    cross join coverage_sources
    left join record_counts
        on
            spine.municipality_code = record_counts.municipality_code
            and spine.month = record_counts.month
            and coverage_sources.reporting_source = record_counts.reporting_source

),

-- Each cell with the months of its window: the 6 months before it and itself.
coverage_windows as (

    select
        cell.municipality_code,
        cell.month,
        cell.reporting_source,
        cell.fact_model,
        cell.records as records_in_month,
        window_month.month as window_month,
        window_month.records,
        count(*) filter (
            where window_month.month_start < cell.month_start and window_month.records > 0
        ) over (
            partition by cell.municipality_code, cell.month, cell.reporting_source
        ) as months_with_records_before,
        coalesce(
            sum(window_month.records) filter (
                where window_month.month_start < cell.month_start
            ) over (partition by cell.municipality_code, cell.month, cell.reporting_source),
            0
        ) as records_before

    from coverage_grid as cell
    inner join coverage_grid as window_month
        on
            cell.municipality_code = window_month.municipality_code
            and cell.reporting_source = window_month.reporting_source
            and window_month.month_start
            between cell.month_start - interval '6 months' and cell.month_start

),

-- A source usually reports when, in the 6 months before, it had records in at least 4 and
-- at least 5 a month on average (the thresholds of int_indicators__coverage).
usual_windows as (

    select *
    from coverage_windows
    where months_with_records_before >= 4 and records_before >= 5 * 6

),

-- The current month's row carries the weight: 1 for a gap (an absence: no records), and
-- for coverage 1 in the denominator (a usual source) and in the numerator if it reported.
coverage_rows as (

    select
        'reporting_gap__' || reporting_source as indicator_code,
        municipality_code,
        month,
        fact_model,
        window_month as fact_key,
        reporting_source as counted_id,
        cast(case when window_month = month then 1 else 0 end as numeric) as weight,
        cast(null as numeric) as denominator_weight,
        cast(records as numeric) as measure,
        cast(null as text) as batch_id,
        cast(null as text) as source_file,
        cast(null as bigint) as source_row,
        cast(null as text) as file_sha256

    from usual_windows
    where records_in_month = 0

    union all

    select
        'reporting_coverage_share' as indicator_code,
        municipality_code,
        month,
        fact_model,
        window_month as fact_key,
        reporting_source as counted_id,
        cast(
            case when window_month = month and records_in_month > 0 then 1 else 0 end as numeric
        ) as weight,
        cast(case when window_month = month then 1 else 0 end as numeric) as denominator_weight,
        cast(records as numeric) as measure,
        cast(null as text) as batch_id,
        cast(null as text) as source_file,
        cast(null as bigint) as source_row,
        cast(null as text) as file_sha256

    from usual_windows

),

contributions as (

    select * from traced_counts
    union all
    select * from funnel_rows
    union all
    select * from cohort_rows
    union all
    select * from delay_rows
    union all
    select * from survey_rows
    union all
    select * from coverage_rows

),

final as (

    select
        contributions.indicator_code
        || '/' || contributions.municipality_code
        || '/' || contributions.month
        || '/' || contributions.fact_model
        || '/' || contributions.fact_key as contribution_id,
        contributions.indicator_code,
        contributions.municipality_code,
        contributions.month,
        'all' as sex,
        'all' as age_group,
        contributions.fact_model,
        contributions.fact_key,
        contributions.counted_id,
        contributions.weight,
        contributions.denominator_weight,
        contributions.measure,
        cast(contributions.batch_id as text) as batch_id,
        cast(contributions.source_file as text) as source_file,
        cast(contributions.source_row as bigint) as source_row,
        cast(contributions.file_sha256 as text) as file_sha256

    from contributions
    -- Only cells the indicator table has: the spine's municipalities and months, and the
    -- indicators ref_indicators defines.
    inner join spine
        on
            contributions.municipality_code = spine.municipality_code
            and contributions.month = spine.month
    inner join indicators
        on contributions.indicator_code = indicators.indicator_code

)

select * from final
