-- Police re-send rows with corrections (an assault becomes a homicide when the victim dies)
-- and whole files again: keep the latest recorded version of each report and victim.
with

reports as (

    select * from {{ ref('stg_police__reports') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by report_victim_id
            order by recorded_at desc, ingested_at desc, batch_id desc, source_row desc
        ) as version_rank,
        count(*) over (partition by report_victim_id) as version_count

    from reports

),

final as (

    select * from ranked
    where version_rank = 1

)

select * from final
