-- One row per reconciled victim: which systems recorded them, what each called it, how
-- sure the linkage is, and the final status.
with

register as (

    select * from {{ source('victim_register', 'victim_register') }}

),

final as (

    select
        victim_id,
        final_status,
        final_status in ('confirmed_homicide', 'homicide_single_source') as is_homicide,
        event_date,
        to_char(event_date, 'YYYY-MM') as month,
        municipality_code,
        array_to_string(systems, ',') as systems,
        record_count,
        has_police_record,
        has_prosecution_record,
        has_forensic_record,
        has_hospital_record,
        police_record_id,
        prosecution_record_id,
        forensic_record_id,
        hospital_record_id,
        police_classification,
        prosecution_classification,
        forensic_classification,
        hospital_classification,
        homicide_sources,
        match_probability,
        linked_by_rule,
        is_unidentified,
        is_police_without_autopsy,
        is_autopsy_without_police,
        is_reclassified,
        id_pseudonym,
        updated_at

    from register

)

select * from final
