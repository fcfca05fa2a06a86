with

source as (

    select * from {{ source('ops', 'validation_results') }}

),

renamed as (

    select
        result_id,
        run_id,
        batch_id,
        suite_name,
        expectation_type,
        column_name,
        severity,
        success,
        observed_value,
        unexpected_count,
        sample_rows,
        scope,
        validated_at

    from source

)

select * from renamed
