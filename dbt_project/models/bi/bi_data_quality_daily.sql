-- Per source entity and day: batches accepted, rejected and flagged, records read, loaded and
-- quarantined, expectation failures. National (no department): national logins see it.
-- Record counts from 1 to 9 are suppressed; batch and expectation counts are about files.
with

quality as (

    select * from {{ ref('mart_data_quality_daily') }}

),

final as (

    select
        cell_id,
        source_entity,
        batch_date,
        cast(null as text) as department_code,
        batches_loaded,
        batches_rejected,
        batches_flagged,
        {{ suppress_small_count('rows_read') }} as rows_read,
        {{ suppress_small_count('rows_loaded') }} as rows_loaded,
        {{ suppress_small_count('rows_quarantined') }} as rows_quarantined,
        critical_failures,
        warning_failures

    from quality

)

select * from final
