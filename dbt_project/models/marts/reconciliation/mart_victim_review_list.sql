-- The review list for the inter-institutional table: for each institution, the reconciled
-- victims it has no record of although another system records them as a homicide or a death
-- of undetermined intent. Pseudonymised: the victim's register id and each system's own
-- record key, which only the institution that owns the record can re-identify. The hospital
-- is asked only about victims who died after the day of the attack (the forensic death date
-- is later than the incident date): those killed on the spot never reach a hospital.
with

victims as (

    select * from {{ ref('fct_homicide_victims') }}

),

records as (

    select * from {{ source('victim_register', 'victim_register_records') }}

),

institutions as (

    select unnest(array['police', 'prosecution', 'forensic', 'hospital']) as institution

),

death_timing as (

    select
        victim_id,
        min(event_date) filter (
            where source_dataset in ('police', 'prosecution')
        ) as incident_date,
        min(event_date) filter (where source_dataset = 'forensic') as death_date

    from records
    group by victim_id

),

reviewable as (

    select
        victims.*,
        coalesce(death_timing.death_date > death_timing.incident_date, false)
            as is_late_death

    from victims
    left join death_timing
        on victims.victim_id = death_timing.victim_id
    where
        victims.final_status in (
            'confirmed_homicide', 'homicide_single_source', 'undetermined_intent'
        )

),

missing as (

    select
        institutions.institution as missing_institution,
        reviewable.*

    from reviewable
    inner join institutions
        on case institutions.institution
            when 'police' then not reviewable.has_police_record
            when 'prosecution' then not reviewable.has_prosecution_record
            when 'forensic' then not reviewable.has_forensic_record
            when 'hospital'
                then not reviewable.has_hospital_record and reviewable.is_late_death
        end

),

final as (

    select
        missing_institution || '|' || victim_id as review_id,
        missing_institution,
        victim_id,
        month,
        municipality_code,
        final_status,
        systems,
        record_count,
        is_unidentified,
        is_late_death,
        -- Each system's own key, without the `<system>:` prefix of the register's ids.
        substr(police_record_id, strpos(police_record_id, ':') + 1) as police_record_key,
        substr(prosecution_record_id, strpos(prosecution_record_id, ':') + 1)
            as prosecution_record_key,
        substr(forensic_record_id, strpos(forensic_record_id, ':') + 1)
            as forensic_record_key,
        substr(hospital_record_id, strpos(hospital_record_id, ':') + 1)
            as hospital_record_key

    from missing

)

select * from final
