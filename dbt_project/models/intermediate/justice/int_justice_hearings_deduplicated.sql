-- A scheduled hearing is later marked held or suspended.
-- Raw holds every version pulled, and rows re-read in the overlap window of two pulls
-- arrive twice: keep one row per hearing, its latest version by `updated_at`.
with

hearings as (

    select * from {{ ref('stg_justice__hearings') }}

),

versions as (

    select
        hearing_id,
        count(distinct updated_at) as version_count,
        count(*) as rows_pulled

    from hearings
    group by hearing_id

),

ranked as (

    select
        *,
        row_number() over (
            partition by hearing_id
            order by updated_at desc, ingested_at desc, batch_id desc, source_row desc
        ) as version_rank

    from hearings

),

final as (

    select
        ranked.*,
        versions.version_count,
        versions.rows_pulled

    from ranked
    inner join versions
        on ranked.hearing_id = versions.hearing_id
    where ranked.version_rank = 1

)

select * from final
