-- Each consultation's ranked priorities as rows, from the latest export of the consultation
-- (the platform re-exports its whole history every time).
with

consultations as (

    select * from {{ ref('stg_consultations__consultations') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by consultation_id
            order by ingested_at desc, batch_id desc, source_row desc
        ) as version_rank,
        count(*) over (partition by consultation_id) as version_count

    from consultations

),

latest as (

    select * from ranked
    where version_rank = 1

),

unnested as (

    select
        latest.consultation_id,
        latest.municipality_code,
        latest.consultation_date,
        latest.participants,
        cast(priority.item ->> 'posicion' as integer) as priority_rank,
        priority.item ->> 'tema' as topic_label,
        priority.item ->> 'tipo_codigo' as topic_code_type,
        priority.item ->> 'codigo_tema' as topic_code,
        cast(priority.item ->> 'votos' as integer) as votes,
        latest.version_count,
        latest.batch_id,
        latest.source_file,
        latest.source_row,
        latest.file_sha256

    from latest
    cross join lateral jsonb_array_elements(latest.priorities) as priority (item)

),

final as (

    select
        {{ dbt.concat(["consultation_id", "'-'", "cast(priority_rank as text)"]) }}
            as consultation_priority_id,
        consultation_id,
        municipality_code,
        consultation_date,
        participants,
        priority_rank,
        topic_label,
        case topic_code_type
            when 'indicador' then 'indicator'
            when 'tipo_delito' then 'crime_type'
        end as topic_kind,
        case when topic_code_type = 'indicador' then topic_code end as indicator_code,
        case when topic_code_type = 'tipo_delito' then topic_code end as crime_type,
        votes,
        version_count,
        batch_id,
        source_file,
        source_row,
        file_sha256

    from unnested

)

select * from final
