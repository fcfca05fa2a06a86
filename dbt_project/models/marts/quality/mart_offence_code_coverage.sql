-- National offence codes that police and prosecution records carry but the correspondence
-- table does not map to the ICCS: listed in the table with no agreed category yet
-- (`unmapped`), or not listed at all (`unknown`). Records with these codes are kept in the
-- facts with `is_classified = false`; this is the to-do list of the statistics office, and
-- a dbt test (severity warn) flags it whenever it is not empty.
with

crime_reports as (

    select * from {{ ref('fct_crime_reports') }}

),

detentions as (

    select * from {{ ref('fct_detentions') }}

),

prosecution_cases as (

    select * from {{ ref('fct_prosecution_cases') }}

),

offences as (

    select * from {{ ref('int_national_offences') }}

),

records as (

    select
        'police_reports' as record_source,
        national_offence_code,
        incident_date as record_date
    from crime_reports
    union all
    select
        'police_detentions' as record_source,
        national_offence_code,
        detention_date as record_date
    from detentions
    union all
    select
        'prosecution_cases' as record_source,
        national_offence_code,
        opened_date as record_date
    from prosecution_cases

),

unclassified as (

    select
        records.record_source,
        records.national_offence_code,
        offences.national_offence_name_es,
        case
            when offences.national_offence_code is null then 'unknown'
            else 'unmapped'
        end as coverage_gap,
        records.record_date

    from records
    left join offences
        on records.national_offence_code = offences.national_offence_code
    where
        records.national_offence_code is not null
        and coalesce(offences.iccs_code, '') = ''

),

final as (

    select
        {{ dbt.concat(["record_source", "'|'", "national_offence_code"]) }} as coverage_gap_id,
        national_offence_code,
        record_source,
        national_offence_name_es,
        coverage_gap,
        count(*) as record_count,
        min(record_date) as first_seen_date,
        max(record_date) as last_seen_date

    from unclassified
    group by record_source, national_offence_code, national_offence_name_es, coverage_gap

)

select * from final
