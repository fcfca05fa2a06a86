-- The simulated country's police reports in the shape of the `crime_events` interface
-- (stg_interface__crime_events, whose contract checks this model's columns). A staging model,
-- not a contract mapping: the victim's key joins two columns and unknown values get the
-- interface's defaults, which a column mapping cannot say.
with

source as (

    select * from {{ source('police', 'police__reports') }}

),

renamed as (

    select
        {{ dbt.concat(["report_id", "'-'", "victim_seq"]) }} as report_victim_id,
        report_id,
        victim_seq,
        recorded_at,
        incident_date,
        incident_time,
        municipality_reported,
        municipality_name,
        offence_code as national_offence_code,
        offence_name as national_offence_name,
        victim_national_id_pseudonym as victim_id_pseudonym,
        victim_national_id_status as victim_id_status,
        victim_name_pseudonym,
        victim_name_tokens,
        coalesce(victim_sex, 'I') as victim_sex,
        victim_age,
        victim_birth_year,
        coalesce(victim_offender_relationship, 'sin dato') as victim_offender_relationship,
        coalesce(weapon, 'sin dato') as weapon,
        coalesce(place, 'sin dato') as place,
        {{ interface_source_columns('police', source('police', 'police__reports')) }},
        {{ provenance_columns() }}

    from source

)

select * from renamed
