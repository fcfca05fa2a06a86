-- Reporting coverage: a source that usually sends records for a municipality but sent none
-- this month. A municipality usually reports to a source in a month when, over the previous
-- 6 months of the period, it had records in at least 4 and at least 5 records a month on
-- average (so a month without any is unlikely by chance: e^-5 < 1%); a gap is such a month
-- without records. `reporting_gap__<source>` is 1 or 0 per municipality and month, and
-- `reporting_coverage_share` the share of the municipality's usual sources that did
-- report (summed, the national share). Definitions: seeds/ref_indicators.csv.
{%- set usual_months = 4 %}
{%- set window_months = 6 %}
{%- set usual_records_a_month = 5 %}
{#- (source, system) pairs checked; a var only so unit tests can narrow it. -#}
{%- set reporting_sources = var('coverage_indicator_sources', [
    ['police_reports', 'police'],
    ['detentions', 'police'],
    ['police_complaints', 'police'],
    ['use_of_force', 'police'],
    ['forensic_deaths', 'health'],
    ['hospital_admissions', 'health'],
    ['prosecution_cases', 'justice'],
]) %}

with

spine as (

    select * from {{ ref('int_indicator_spine') }}

),

police_reports as (

    select * from {{ ref('int_justice_reports_registered') }}

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

forensic_deaths as (

    select * from {{ ref('fct_violent_deaths') }}

),

hospital_admissions as (

    select * from {{ ref('fct_injury_admissions') }}

),

prosecution_cases as (

    select * from {{ ref('fct_prosecution_cases') }}

),

-- Each source's records by the date it registers them (police reports by their first
-- recorded version, so a late report never fills a silent month).
records as (

    select
        'police_reports' as reporting_source,
        municipality_code,
        to_char(registered_date, 'YYYY-MM') as month,
        count(*) as records
    from police_reports
    group by 1, 2, 3

    union all

    select
        'detentions' as reporting_source,
        municipality_code,
        to_char(detention_date, 'YYYY-MM') as month,
        count(*) as records
    from detentions
    group by 1, 2, 3

    union all

    select
        'police_complaints' as reporting_source,
        municipality_code,
        to_char(registered_date, 'YYYY-MM') as month,
        count(*) as records
    from police_complaints
    group by 1, 2, 3

    union all

    select
        'use_of_force' as reporting_source,
        municipality_code,
        to_char(incident_date, 'YYYY-MM') as month,
        count(*) as records
    from use_of_force
    group by 1, 2, 3

    union all

    select
        'forensic_deaths' as reporting_source,
        municipality_code,
        to_char(death_date, 'YYYY-MM') as month,
        count(*) as records
    from forensic_deaths
    group by 1, 2, 3

    union all

    select
        'hospital_admissions' as reporting_source,
        municipality_code,
        to_char(admission_date, 'YYYY-MM') as month,
        count(*) as records
    from hospital_admissions
    group by 1, 2, 3

    union all

    select
        'prosecution_cases' as reporting_source,
        municipality_code,
        to_char(opened_date, 'YYYY-MM') as month,
        count(*) as records
    from prosecution_cases
    group by 1, 2, 3

),

reporting_sources as (

    select
        reporting_source,
        system
    from (
        values
        {%- for reporting_source, system in reporting_sources %}
            ('{{ reporting_source }}', '{{ system }}'){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as listed (reporting_source, system)

),

grid as (

    select
        spine.municipality_code,
        spine.month,
        spine.month_start,
        reporting_sources.reporting_source,
        reporting_sources.system,
        coalesce(records.records, 0) as records,
        records.month is not null as has_records

    from spine
    cross join reporting_sources
    left join records
        on
            spine.municipality_code = records.municipality_code
            and spine.month = records.month
            and reporting_sources.reporting_source = records.reporting_source

),

history as (

    select
        grid.*,
        coalesce(
            count(*) filter (where grid.has_records) over (
                partition by grid.reporting_source, grid.municipality_code
                order by grid.month_start
                rows between {{ window_months }} preceding and 1 preceding
            ),
            0
        ) as months_with_records_before,
        coalesce(
            sum(grid.records) over (
                partition by grid.reporting_source, grid.municipality_code
                order by grid.month_start
                rows between {{ window_months }} preceding and 1 preceding
            ),
            0
        ) as records_before

    from grid

),

flagged as (

    select
        history.*,
        history.months_with_records_before >= {{ usual_months }}
        and history.records_before >= {{ usual_records_a_month * window_months }}
            as usually_reports

    from history

),

gaps as (

    select
        'reporting_gap__' || reporting_source as indicator_code,
        municipality_code,
        month,
        'all' as sex,
        'all' as age_group,
        cast(case when usually_reports and not has_records then 1 else 0 end as numeric)
            as numerator,
        cast(null as numeric) as denominator,
        cast(case when usually_reports and not has_records then 1 else 0 end as numeric)
            as value,
        system as source

    from flagged

),

coverage_cells as (

    select
        municipality_code,
        month,
        count(*) filter (where usually_reports and has_records) as usual_sources_reporting,
        count(*) filter (where usually_reports) as usual_sources

    from flagged
    group by 1, 2

),

coverage as (

    select
        'reporting_coverage_share' as indicator_code,
        municipality_code,
        month,
        'all' as sex,
        'all' as age_group,
        cast(usual_sources_reporting as numeric) as numerator,
        cast(usual_sources as numeric) as denominator,
        {{ safe_ratio('usual_sources_reporting', 'usual_sources') }} as value,
        'police+health+justice' as source

    from coverage_cells

),

final as (

    select * from gaps
    union all
    select * from coverage

)

select * from final
