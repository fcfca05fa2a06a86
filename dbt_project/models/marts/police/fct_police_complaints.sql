-- Complaints against the police, one row per complaint in its latest recorded version, with
-- the municipality resolved and whether the detention it names is on record.
with

complaints as (

    select * from {{ ref('stg_police__complaints') }}

),

detentions as (

    select distinct detention_id from {{ ref('stg_police__detentions') }}

),

municipalities as (

    select * from {{ ref('int_municipalities') }}

),

municipality_names as (

    select * from {{ ref('int_municipality_names') }}

),

resolved as (

    {{ police_versions_resolved('complaints', 'complaint_id') }}

),

final as (

    select
        resolved.complaint_id,
        resolved.recorded_at,
        cast(resolved.recorded_at as date) as registered_date,
        resolved.incident_date,
        resolved.municipality_code,
        resolved.is_municipality_from_name,
        resolved.complaint_type,
        resolved.complaint_status,
        resolved.detention_id,
        resolved.detention_id is not null as has_detention,
        detentions.detention_id is not null as is_detention_on_record,
        resolved.version_count,
        resolved.batch_id,
        resolved.source_file,
        resolved.source_row,
        resolved.file_sha256

    from resolved
    left join detentions
        on resolved.detention_id = detentions.detention_id

)

select * from final
