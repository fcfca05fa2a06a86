-- Each police report victim with its municipality resolved and its offence classified in
-- the ICCS through the country's correspondence table.
with

reports as (

    select * from {{ ref('int_crime_reports_deduplicated') }}

),

offences as (

    select * from {{ ref('ref_national_offences') }}

),

iccs as (

    select * from {{ ref('ref_iccs_categories') }}

),

municipalities as (

    select * from {{ ref('ref_municipalities') }}

),

municipality_names as (

    select * from {{ ref('int_municipality_names') }}

),

resolved as (

    select
        reports.*,
        coalesce(
            by_code.municipality_code,
            by_name.municipality_code,
            by_name_field.municipality_code,
            '99999'
        ) as municipality_code,
        by_code.municipality_code is null as is_municipality_from_name

    from reports
    left join municipalities as by_code
        on reports.municipality_reported = by_code.municipality_code
    left join municipality_names as by_name
        on {{ normalise_text('reports.municipality_reported') }} = by_name.name_key
    left join municipality_names as by_name_field
        on {{ normalise_text('reports.municipality_name') }} = by_name_field.name_key

),

classified as (

    select
        resolved.*,
        offences.iccs_code,
        iccs.level_1_code as iccs_level_1_code,
        iccs.level_2_code as iccs_level_2_code,
        iccs.level_3_code as iccs_level_3_code,
        iccs.level_4_code as iccs_level_4_code,
        offences.national_offence_code is not null as is_known_offence,
        offences.iccs_code is not null and offences.iccs_code <> '' as is_classified,
        resolved.victim_offender_relationship in ('pareja', 'expareja', 'familiar')
            as is_intrafamily

    from resolved
    left join offences
        on resolved.national_offence_code = offences.national_offence_code
    left join iccs
        on offences.iccs_code = iccs.iccs_code

),

final as (

    select
        *,
        coalesce(iccs_level_2_code = '0101', false) as is_intentional_homicide,
        coalesce(iccs_level_2_code = '0101', false)
        and victim_sex = 'F'
        and victim_offender_relationship in ('pareja', 'expareja', 'familiar') as is_femicide

    from classified

)

select * from final
