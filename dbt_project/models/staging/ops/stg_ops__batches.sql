with

source as (

    select * from {{ source('ops', 'batch_ledger') }}

),

renamed as (

    select
        batch_id,
        source as source_entity,
        split_part(source, '__', 1) as source_system,
        source_file,
        source_query,
        file_sha256,
        file_bytes,
        rows_read,
        rows_loaded,
        rows_quarantined,
        status,
        has_warnings,
        array_length(warnings, 1) as warning_count,
        error,
        started_at,
        finished_at,
        extract(epoch from finished_at - started_at) as duration_seconds

    from source

)

select * from renamed
