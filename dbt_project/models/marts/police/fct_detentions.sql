{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='detention_id',
        indexes=[{'columns': ['batch_id']}],
    )
}}
-- Police detentions, one row per detention in its latest recorded version, with the
-- municipality resolved and the offence classified in the ICCS.
with

detentions as (

    select * from {{ ref('stg_police__detentions') }}
    {{ incremental_records('detention_id', ref('stg_police__detentions')) }}

),

municipalities as (

    select * from {{ ref('int_municipalities') }}

),

offences as (

    select * from {{ ref('int_national_offences') }}

),

municipality_names as (

    select * from {{ ref('int_municipality_names') }}

),

resolved as (

    {{ police_versions_resolved('detentions', 'detention_id') }}

),

final as (

    select
        resolved.detention_id,
        resolved.report_id,
        resolved.detention_date,
        resolved.detention_time,
        resolved.recorded_at,
        resolved.municipality_code,
        resolved.is_municipality_from_name,
        resolved.national_offence_code,
        nullif(offences.iccs_code, '') as iccs_code,
        resolved.legal_basis,
        resolved.legal_basis = 'flagrancia' as is_in_flagrante,
        resolved.hours_held,
        coalesce(resolved.hours_held > 48, false) as is_held_beyond_48h,
        resolved.is_handed_to_prosecutor,
        resolved.detainee_id_pseudonym,
        resolved.detainee_id_status,
        resolved.detainee_name_pseudonym,
        resolved.detainee_sex,
        resolved.detainee_age,
        resolved.version_count,
        resolved.batch_id,
        resolved.source_file,
        resolved.source_row,
        resolved.file_sha256

    from resolved
    left join offences
        on resolved.national_offence_code = offences.national_offence_code

)

select * from final
