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

    select * from {{ ref('ref_municipalities') }}

),

municipality_names as (

    select * from {{ ref('int_municipality_names') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by complaint_id
            order by recorded_at desc, ingested_at desc, batch_id desc, source_row desc
        ) as version_rank,
        count(*) over (partition by complaint_id) as version_count

    from complaints

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
