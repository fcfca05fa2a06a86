-- The tripartite table, automated: per municipality and month, how many homicide victims
-- each system recorded (by its own date and place), how many distinct victims there are
-- once linked, and why the systems differ.
with

victims as (

    select * from {{ ref('fct_homicide_victims') }}

),

records as (

    select * from {{ source('victim_register', 'victim_register_records') }}

),

per_source as (

    select
        to_char(event_date, 'YYYY-MM') as month,
        municipality_code,
        count(*) filter (where source_dataset = 'police') as police_records,
        count(*) filter (where source_dataset = 'prosecution') as prosecution_records,
        count(*) filter (where source_dataset = 'forensic') as forensic_records,
        count(*) filter (where source_dataset = 'hospital') as hospital_records

    from records
    group by 1, 2

),

reconciled as (

    select
        month,
        municipality_code,
        count(*) filter (where is_homicide) as reconciled_homicides,
        count(*) filter (where final_status = 'confirmed_homicide') as confirmed_homicides,
        count(*) filter (where final_status = 'homicide_single_source')
            as single_source_homicides,
        count(*) filter (where final_status = 'undetermined_intent') as undetermined_intent,
        count(*) filter (where final_status = 'legal_intervention') as legal_interventions,
        count(*) filter (where is_police_without_autopsy) as police_without_autopsy,
        count(*) filter (where is_autopsy_without_police) as autopsy_without_police,
        count(*) filter (where is_reclassified) as reclassified,
        count(*) filter (where is_unidentified) as unidentified_bodies

    from victims
    group by 1, 2

),

cells as (

    select
        month,
        municipality_code
    from per_source
    union
    select
        month,
        municipality_code
    from reconciled

),

final as (

    select
        cells.month || '|' || cells.municipality_code as cell_id,
        cells.month,
        cells.municipality_code,
        coalesce(per_source.police_records, 0) as police_records,
        coalesce(per_source.prosecution_records, 0) as prosecution_records,
        coalesce(per_source.forensic_records, 0) as forensic_records,
        coalesce(per_source.hospital_records, 0) as hospital_records,
        coalesce(reconciled.reconciled_homicides, 0) as reconciled_homicides,
        coalesce(reconciled.confirmed_homicides, 0) as confirmed_homicides,
        coalesce(reconciled.single_source_homicides, 0) as single_source_homicides,
        coalesce(reconciled.undetermined_intent, 0) as undetermined_intent,
        coalesce(reconciled.legal_interventions, 0) as legal_interventions,
        coalesce(reconciled.police_without_autopsy, 0) as police_without_autopsy,
        coalesce(reconciled.autopsy_without_police, 0) as autopsy_without_police,
        coalesce(reconciled.reclassified, 0) as reclassified,
        coalesce(reconciled.unidentified_bodies, 0) as unidentified_bodies

    from cells
    left join per_source
        on cells.month = per_source.month and cells.municipality_code = per_source.municipality_code
    left join reconciled
        on cells.month = reconciled.month and cells.municipality_code = reconciled.municipality_code

)

select * from final
