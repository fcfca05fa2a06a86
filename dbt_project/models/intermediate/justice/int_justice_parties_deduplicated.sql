-- A party's procedural status follows its case (indicted, convicted, acquitted).
-- Raw holds every version pulled, and rows re-read in the overlap window of two pulls
-- arrive twice: keep one row per party, its latest version by `updated_at`.
with

parties as (

    select * from {{ ref('stg_justice__parties') }}

),

versions as (

    select
        party_id,
        count(distinct updated_at) as version_count,
        count(*) as rows_pulled

    from parties
    group by party_id

),

ranked as (

    select
        *,
        row_number() over (
            partition by party_id
            order by updated_at desc, ingested_at desc, batch_id desc, source_row desc
        ) as version_rank

    from parties

),

final as (

    select
        ranked.*,
        versions.version_count,
        versions.rows_pulled

    from ranked
    inner join versions
        on ranked.party_id = versions.party_id
    where ranked.version_rank = 1

)

select * from final
