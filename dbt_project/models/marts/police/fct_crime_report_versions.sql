{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='report_victim_id',
        indexes=[{'columns': ['report_victim_id']}, {'columns': ['batch_id']}],
        post_hook="{{ create_crime_reports_as_of_function() }}",
    )
}}
-- Every recorded version of each police report victim, classified as that version was:
-- the history behind fct_crime_reports (which holds the latest version only). A version is
-- valid from its `recorded_at` until the next version's, so "as known on date X" is
-- `valid_from <= X and (valid_to > X or valid_to is null)`, which the function
-- `marts.crime_reports_as_of(X)` (created by this model's post-hook) returns.
with

versions as (

    select * from {{ ref('int_crime_report_versions_classified') }}
    {{ incremental_records(
        'report_victim_id', ref('stg_interface__crime_events'), within='report_id'
    ) }}

),

final as (

    select
        report_victim_version_id,
        report_victim_id,
        report_id,
        victim_seq,
        version_number,
        valid_from,
        valid_to,
        is_latest_version,
        incident_date,
        municipality_code,
        national_offence_code,
        nullif(iccs_code, '') as iccs_code,
        iccs_level_1_code,
        iccs_level_2_code,
        iccs_level_3_code,
        iccs_level_4_code,
        is_classified,
        is_intentional_homicide,
        is_femicide,
        is_intrafamily,
        victim_sex,
        victim_offender_relationship,
        ingested_at as loaded_at,
        batch_id,
        source_file,
        source_row,
        file_sha256

    from versions

)

select * from final
