-- Every person the warehouse has seen under a national-ID pseudonym (keyed HMAC-SHA256, the
-- same in every system), one row each, with when and in which systems they appear. No
-- person data: no name, no ID, no birth date; only the pseudonym and counts of records.
-- Records whose ID was missing or failed its check digit have no pseudonym and are not here;
-- record linkage (fct_homicide_victims) is what matches those.
with

crime_reports as (

    select * from {{ ref('fct_crime_reports') }}

),

detentions as (

    select * from {{ ref('fct_detentions') }}

),

parties as (

    select * from {{ ref('int_justice_parties_deduplicated') }}

),

violent_deaths as (

    select * from {{ ref('fct_violent_deaths') }}

),

injury_admissions as (

    select * from {{ ref('fct_injury_admissions') }}

),

sightings as (

    select
        victim_id_pseudonym as person_id_pseudonym,
        'police' as source_system_code,
        'crime_report_victim' as record_kind,
        incident_date as seen_date
    from crime_reports
    where victim_id_pseudonym is not null
    union all
    select
        detainee_id_pseudonym as person_id_pseudonym,
        'police' as source_system_code,
        'detainee' as record_kind,
        detention_date as seen_date
    from detentions
    where detainee_id_pseudonym is not null
    union all
    select
        person_id_pseudonym,
        'prosecution' as source_system_code,
        'case_party' as record_kind,
        cast(created_at as date) as seen_date
    from parties
    where person_id_pseudonym is not null
    union all
    select
        person_id_pseudonym,
        'forensic' as source_system_code,
        'forensic_death' as record_kind,
        death_date as seen_date
    from violent_deaths
    where person_id_pseudonym is not null
    union all
    select
        person_id_pseudonym,
        'hospital' as source_system_code,
        'injury_admission' as record_kind,
        admission_date as seen_date
    from injury_admissions
    where person_id_pseudonym is not null

),

final as (

    select
        person_id_pseudonym,
        min(seen_date) as first_seen_date,
        max(seen_date) as last_seen_date,
        string_agg(distinct source_system_code, ', ' order by source_system_code)
            as source_systems,
        count(distinct source_system_code) as source_system_count,
        count(*) as records,
        count(*) filter (where record_kind = 'crime_report_victim') as crime_report_victim_records,
        count(*) filter (where record_kind = 'detainee') as detainee_records,
        count(*) filter (where record_kind = 'case_party') as case_party_records,
        count(*) filter (where record_kind = 'forensic_death') as forensic_death_records,
        count(*) filter (where record_kind = 'injury_admission') as injury_admission_records

    from sightings
    group by person_id_pseudonym

)

select * from final
