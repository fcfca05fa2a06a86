-- The published crime counts indicators sum, in the facts' shape (see dbt_project/
-- indicators/_facts.yml): every count of every statistics source, labelled with its source;
-- `count_value` is what a row weighs.
with

counts as (

    select * from {{ ref('stg_interface__crime_counts') }}

),

final as (

    select
        'stg_interface__crime_counts' as fact_model,
        source_contract || ':' || record_id as fact_key,
        source_contract || ':' || record_id as counted_id,
        municipality_code,
        to_char(month_start, 'YYYY-MM') as month,
        source_system,
        national_offence_code,
        iccs_code,
        counting_unit,
        period,
        sex,
        age_group,
        count as count_value,
        batch_id,
        source_file,
        source_row,
        file_sha256

    from counts

)

select * from final
