-- One row per batch with what the gate found in it: the data-quality dashboard's base.
with

batches as (

    select * from {{ ref('stg_ops__batches') }}

),

results as (

    select * from {{ ref('stg_ops__validation_results') }}

),

failures as (

    select
        batch_id,
        count(*) as expectations_evaluated,
        count(*) filter (where not success and severity = 'critical') as critical_failures,
        count(*) filter (where not success and severity = 'warning') as warning_failures,
        count(*) filter (where not success and severity = 'info') as info_failures,
        max(validated_at) as validated_at

    from results
    where batch_id is not null
    group by 1

),

final as (

    select
        batches.batch_id,
        batches.source_system,
        batches.source_entity,
        batches.source_file,
        batches.file_sha256,
        batches.status,
        batches.has_warnings,
        batches.rows_read,
        batches.rows_loaded,
        batches.rows_quarantined,
        case
            when batches.rows_read > 0
                then round(cast(batches.rows_quarantined as numeric) / batches.rows_read, 6)
        end as quarantined_share,
        coalesce(failures.expectations_evaluated, 0) as expectations_evaluated,
        coalesce(failures.critical_failures, 0) as critical_failures,
        coalesce(failures.warning_failures, 0) as warning_failures,
        coalesce(failures.info_failures, 0) as info_failures,
        batches.error,
        batches.started_at,
        batches.finished_at,
        cast(batches.duration_seconds as numeric) as duration_seconds,
        failures.validated_at

    from batches
    left join failures
        on batches.batch_id = failures.batch_id

)

select * from final
