-- The record-keeping systems the warehouse is fed by, one row each, with the institution
-- that owns it, how its exports reach the warehouse and the source entities (ingestion
-- contracts, raw tables) it delivers; plus what the batch ledger says about its loads.
-- The list is the project's own description of its sources, kept here beside the ledger
-- figures rather than in a seed because it changes only when a contract is added.
with

batches as (

    select * from {{ ref('stg_ops__batches') }}

),

systems as (

    select
        systems.source_system_code,
        systems.source_system_name_en,
        systems.source_system_name_es,
        systems.institution_en,
        systems.institution_es,
        systems.contract_source,
        systems.source_entities,
        systems.delivery_method,
        systems.delivery_cadence,
        systems.has_person_pseudonyms

    from (
        values
        (
            'police', 'Police records', 'Registros policiales',
            'National Police', 'Policía Nacional', 'police',
            'police__reports, police__detentions, police__complaints, police__use_of_force',
            'CSV file drop', 'hourly (reports), daily (operations)', true
        ),
        (
            'prosecution', 'Prosecution cases', 'Casos fiscales',
            'Public Prosecutor''s Office', 'Ministerio Público (Fiscalía)', 'justice',
            'justice__cases, justice__parties',
            'incremental SQL pull', 'hourly', true
        ),
        (
            'courts', 'Court hearings and judgements', 'Audiencias y sentencias',
            'Judiciary', 'Organismo Judicial', 'justice',
            'justice__hearings, justice__judgements',
            'incremental SQL pull', 'hourly', false
        ),
        (
            'forensic', 'Forensic deaths', 'Muertes forenses',
            'National Forensic Institute', 'Instituto Nacional de Medicina Legal', 'health',
            'health__forensic_deaths',
            'REST API pull', 'daily', true
        ),
        (
            'hospital', 'Hospital injury admissions', 'Ingresos hospitalarios por lesiones',
            'Ministry of Health', 'Ministerio de Salud', 'health',
            'health__hospital_admissions',
            'REST API pull', 'daily', true
        ),
        (
            'survey', 'Victimisation survey', 'Encuesta de victimización',
            'National Statistics Office', 'Instituto Nacional de Estadística', 'survey',
            'survey__responses',
            'file drop', 'yearly', false
        ),
        (
            'consultations', 'Citizen consultations', 'Consultas ciudadanas',
            'Citizen-participation platform', 'Plataforma de participación ciudadana',
            'consultations',
            'consultations__consultations',
            'JSON file drop', 'on arrival', false
        )
    ) as systems (
        source_system_code,
        source_system_name_en,
        source_system_name_es,
        institution_en,
        institution_es,
        contract_source,
        source_entities,
        delivery_method,
        delivery_cadence,
        has_person_pseudonyms
    )

),

entities as (

    select
        systems.source_system_code,
        trim(entity.source_entity) as source_entity
    from systems
    cross join unnest(string_to_array(systems.source_entities, ',')) as entity (source_entity)

),

loads as (

    select
        entities.source_system_code,
        count(batches.batch_id) filter (where batches.status = 'loaded') as batches_loaded,
        count(batches.batch_id) filter (where batches.status = 'rejected') as batches_rejected,
        coalesce(sum(batches.rows_loaded) filter (where batches.status = 'loaded'), 0)
            as rows_loaded,
        max(batches.finished_at) filter (where batches.status = 'loaded') as last_loaded_at

    from entities
    left join batches
        on entities.source_entity = batches.source_entity
    group by entities.source_system_code

),

final as (

    select
        systems.*,
        loads.batches_loaded,
        loads.batches_rejected,
        loads.rows_loaded,
        loads.last_loaded_at

    from systems
    inner join loads
        on systems.source_system_code = loads.source_system_code

)

select * from final
