-- Citizen priorities, one row per ranked issue of each consultation, with the indicator or
-- crime type it maps to so dashboards can set what people ask for beside the numbers.
with

priorities as (

    select * from {{ ref('int_consultation_priorities_unnested') }}

),

municipalities as (

    select * from {{ ref('int_municipalities') }}

),

final as (

    select
        priorities.consultation_priority_id,
        priorities.consultation_id,
        priorities.consultation_date,
        priorities.municipality_code,
        municipalities.department_code,
        priorities.participants,
        priorities.priority_rank,
        priorities.topic_label,
        priorities.topic_kind,
        priorities.indicator_code,
        priorities.crime_type,
        priorities.votes,
        cast(
            round(cast(priorities.votes as numeric) / nullif(priorities.participants, 0), 4)
            as numeric(7, 4)
        ) as vote_share,
        priorities.version_count,
        priorities.batch_id,
        priorities.source_file,
        priorities.source_row,
        priorities.file_sha256

    from priorities
    left join municipalities
        on priorities.municipality_code = municipalities.municipality_code

)

select * from final
