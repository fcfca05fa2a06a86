{{
    config(
        post_hook="{{ create_prosecution_cases_as_of_function() }}",
    )
}}
-- Every version of each prosecution case, as the justice database wrote it: the status
-- history behind fct_prosecution_cases (which keeps the latest version only). A version is
-- valid from its `updated_at` until the next version's, so "as known on date X" is
-- `valid_from <= X and (valid_to > X or valid_to is null)`, which the function
-- `marts.prosecution_cases_as_of(X)` (created by this model's post-hook) returns.
with

cases as (

    select * from {{ ref('stg_interface__justice_cases') }}

),

-- Rows re-read in the overlap window of two pulls are the same version: keep the first pull.
distinct_versions as (

    select
        *,
        row_number() over (
            partition by case_id, updated_at
            order by ingested_at asc, batch_id asc, source_row asc
        ) as pull_rank

    from cases

),

versions as (

    select
        *,
        row_number() over (partition by case_id order by updated_at) as version_number,
        lead(updated_at) over (partition by case_id order by updated_at) as next_updated_at

    from distinct_versions
    where pull_rank = 1

),

final as (

    select
        case_id || '@' || to_char(updated_at, 'YYYY-MM-DD"T"HH24:MI:SS.US') as case_version_id,
        case_id,
        cast(version_number as integer) as version_number,
        updated_at as valid_from,
        next_updated_at as valid_to,
        next_updated_at is null as is_latest_version,
        opened_date,
        case_status,
        coalesce(prosecutor_decision, 'pending') as prosecutor_decision,
        decision_date,
        court_case_id,
        court_filed_date,
        national_offence_code,
        batch_id,
        source_query,
        source_row

    from versions

)

select * from final
