{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='incident_id',
        indexes=[{'columns': ['batch_id']}],
    )
}}
-- Police use-of-force incidents, one row per incident in its latest recorded version, with
-- the municipality resolved.
with

incidents as (

    select * from {{ ref('stg_police__use_of_force_incidents') }}
    {{ incremental_records('incident_id', ref('stg_police__use_of_force_incidents')) }}

),

municipalities as (

    select * from {{ ref('int_municipalities') }}

),

municipality_names as (

    select * from {{ ref('int_municipality_names') }}

),

resolved as (

    {{ police_versions_resolved('incidents', 'incident_id') }}

),

final as (

    select
        incident_id,
        incident_date,
        incident_time,
        recorded_at,
        municipality_code,
        is_municipality_from_name,
        force_type,
        persons_injured,
        persons_killed,
        persons_killed > 0 as is_lethal,
        detention_id,
        detention_id is not null as is_during_detention,
        version_count,
        batch_id,
        source_file,
        source_row,
        file_sha256

    from resolved

)

select * from final
