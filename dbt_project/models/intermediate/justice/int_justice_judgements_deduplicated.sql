-- A first-instance judgement becomes final (`firme`) months later.
-- Raw holds every version pulled, and rows re-read in the overlap window of two pulls
-- arrive twice: keep one row per judgement, its latest version by `updated_at`.
with

judgements as (

    select * from {{ ref('stg_justice__judgements') }}

),

versions as (

    select
        judgement_id,
        count(distinct updated_at) as version_count,
        count(*) as rows_pulled,
        min(updated_at) filter (where judgement_status = 'firme') as became_final_at

    from judgements
    group by judgement_id

),

ranked as (

    select
        *,
        row_number() over (
            partition by judgement_id
            order by updated_at desc, ingested_at desc, batch_id desc, source_row desc
        ) as version_rank

    from judgements

),

final as (

    select
        ranked.*,
        versions.version_count,
        versions.rows_pulled,
        versions.became_final_at

    from ranked
    inner join versions
        on ranked.judgement_id = versions.judgement_id
    where ranked.version_rank = 1

)

select * from final
