-- Every recorded version of each police report victim, with its municipality resolved and
-- its offence classified in the ICCS through the country's correspondence table. The police
-- re-send a row when they correct it (an assault becomes a homicide when the victim dies):
-- each version is valid from its `recorded_at` until the next one's, which is what lets the
-- marts answer "as known on date X". A version re-sent in another file counts once.
with

reports as (

    select * from {{ ref('stg_interface__crime_events') }}

),

offences as (

    select * from {{ ref('int_national_offences') }}

),

iccs as (

    select * from {{ ref('ref_iccs_categories') }}

),

municipalities as (

    select * from {{ ref('int_municipalities') }}

),

municipality_names as (

    select * from {{ ref('int_municipality_names') }}

),

resolved as (

    {{ police_versions_resolved('reports', 'report_victim_id', keep='all', within='report_id') }}

),

classified as (

    select
        resolved.*,
        nullif(offences.iccs_code, '') as iccs_code,
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
        {{ dbt.concat(["report_victim_id", "'@'", "version_number"]) }} as report_victim_version_id,
        coalesce(iccs_level_2_code = '0101', false) as is_intentional_homicide,
        coalesce(iccs_level_2_code = '0101', false)
        and victim_sex = 'F'
        and victim_offender_relationship in ('pareja', 'expareja', 'familiar') as is_femicide

    from classified

)

select * from final
