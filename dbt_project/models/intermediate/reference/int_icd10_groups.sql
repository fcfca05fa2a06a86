-- The ICD-10 external-cause groups in use, one row per code range.
-- From the profile's table (`icd10_groups`): the demo's seed, or a file loaded through its contract.
with

source_rows as (

    {{ reference_rows('icd10_groups') }}

),

final as (

    select distinct
        group_code,
        group_name_en,
        group_name_es,
        range_start,
        range_end,
        intent

    from source_rows

)

select * from final
