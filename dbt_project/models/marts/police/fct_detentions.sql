-- Police detentions, one row per detention in its latest recorded version, with the
-- municipality resolved and the offence classified in the ICCS.
with

detentions as (

    select * from {{ ref('stg_police__detentions') }}

),

municipalities as (

    select * from {{ ref('ref_municipalities') }}

),

offences as (

    select * from {{ ref('ref_national_offences') }}

),

municipality_names as (

    select * from {{ ref('int_municipality_names') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by detention_id
            order by recorded_at desc, ingested_at desc, batch_id desc, source_row desc
        ) as version_rank,
        count(*) over (partition by detention_id) as version_count

    from detentions

),

latest as (

    select * from ranked
    where version_rank = 1

),

resolved as (

    select
        latest.*,
        coalesce(
            by_code.municipality_code,
            by_name.municipality_code,
            by_name_field.municipality_code,
            '99999'
        ) as municipality_code,
        by_code.municipality_code is null as is_municipality_from_name

    from latest
    left join municipalities as by_code
        on latest.municipality_reported = by_code.municipality_code
    left join municipality_names as by_name
        on {{ normalise_text('latest.municipality_reported') }} = by_name.name_key
    left join municipality_names as by_name_field
        on {{ normalise_text('latest.municipality_name') }} = by_name_field.name_key

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
