-- Per source entity and day: batches accepted, rejected and flagged, rows quarantined, and
-- expectation failures by severity. What the data-quality dashboard charts.
with

batches as (

    select * from {{ ref('fct_batch_quality') }}

),

daily as (

    select
        source_entity,
        cast(started_at as date) as batch_date,
        count(*) filter (where status = 'loaded') as batches_loaded,
        count(*) filter (where status = 'rejected') as batches_rejected,
        count(*) filter (where status = 'loaded' and has_warnings) as batches_flagged,
        coalesce(sum(rows_read), 0) as rows_read,
        coalesce(sum(rows_loaded), 0) as rows_loaded,
        coalesce(sum(rows_quarantined), 0) as rows_quarantined,
        coalesce(sum(critical_failures), 0) as critical_failures,
        coalesce(sum(warning_failures), 0) as warning_failures

    from batches
    group by 1, 2

),

final as (

    select
        {{ dbt.concat(["source_entity", "'|'", "cast(batch_date as text)"]) }} as cell_id,
        *

    from daily

)

select * from final
