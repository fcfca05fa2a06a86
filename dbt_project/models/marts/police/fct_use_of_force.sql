-- Police use-of-force incidents, one row per incident in its latest recorded version, with
-- the municipality resolved.
with

incidents as (

    select * from {{ ref('stg_police__use_of_force_incidents') }}

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
            partition by incident_id
            order by recorded_at desc, ingested_at desc, batch_id desc, source_row desc
        ) as version_rank,
        count(*) over (partition by incident_id) as version_count

    from incidents

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
