{#- Indexes: the batch, what the next build looks up (macro batches_not_in); the report, how
    int_indicator_changes finds a changed report's rows; the incident date, the indicator
    spine's first and last month (min and max) read from the index. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='report_victim_id',
        indexes=[{'columns': ['batch_id']}, {'columns': ['report_id']}, {'columns': ['incident_date']}],
    )
}}
with

reports as (

    select * from {{ ref('int_crime_reports_classified') }}
    {{ incremental_records(
        'report_victim_id', ref('stg_interface__crime_events'), within='report_id'
    ) }}

),

final as (

    select
        report_victim_id,
        report_id,
        victim_seq,
        incident_date,
        recorded_at,
        municipality_code,
        is_municipality_from_name,
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
        victim_id_pseudonym,
        victim_id_status,
        victim_name_pseudonym,
        victim_name_tokens,
        victim_sex,
        victim_age,
        victim_birth_year,
        victim_offender_relationship,
        weapon,
        place,
        version_count,
        batch_id,
        source_file,
        source_row,
        file_sha256

    from reports

)

select * from final
