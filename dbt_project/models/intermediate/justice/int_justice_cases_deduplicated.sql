-- Prosecution cases change status as they move from investigation to court.
-- Raw holds every version pulled, and rows re-read in the overlap window of two pulls
-- arrive twice: keep one row per case, its latest version by `updated_at`.
with

cases as (

    select * from {{ ref('stg_justice__cases') }}

),

versions as (

    select
        case_id,
        count(distinct updated_at) as version_count,
        count(*) as rows_pulled

    from cases
    group by case_id

),

ranked as (

    select
        *,
        row_number() over (
            partition by case_id
            order by updated_at desc, ingested_at desc, batch_id desc, source_row desc
        ) as version_rank

    from cases

),

final as (

    select
        ranked.*,
        versions.version_count,
        versions.rows_pulled

    from ranked
    inner join versions
        on ranked.case_id = versions.case_id
    where ranked.version_rank = 1

)

select * from final
