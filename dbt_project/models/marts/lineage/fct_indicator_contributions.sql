-- Row-level provenance of every indicator cell: one row per fact row counted in the cell's
-- numerator, with the batch, file and row of the source it was loaded from. The filters in
-- `indicator_filters` mirror each `int_indicators__<family>` model exactly, so the weights
-- of a cell's rows sum to the numerator `mart_indicators_monthly` publishes. Indicators
-- that count distinct reports (or detentions, complaints, incidents) keep one row per
-- distinct id: the fact row with the smallest key. `marts.explain_indicator()` reads it.
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
    left join violent_deaths as by_forensic
        on
            homicide_victims.forensic_record_id in (
                by_forensic.forensic_record_id, 'forensic:' || by_forensic.forensic_record_id
            )
    left join crime_reports as by_police
        on
            homicide_victims.police_record_id in (
                by_police.report_victim_id, 'police:' || by_police.report_victim_id
            )

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

final as (

    select
        ranked.indicator_code || '/' || ranked.fact_model || '/' || ranked.fact_key
            as contribution_id,
        ranked.indicator_code,
        ranked.municipality_code,
        ranked.month,
        'all' as sex,
        'all' as age_group,
        ranked.fact_model,
        ranked.fact_key,
        ranked.counted_id,
        cast(ranked.weight as numeric) as weight,
        cast(ranked.batch_id as text) as batch_id,
        cast(ranked.source_file as text) as source_file,
        cast(ranked.source_row as bigint) as source_row,
        cast(ranked.file_sha256 as text) as file_sha256

    from ranked
    -- Only cells the indicator table has: the spine's municipalities and months.
    inner join spine
        on
            ranked.municipality_code = spine.municipality_code
            and ranked.month = spine.month
    where ranked.pick = 1

)

select * from final
