-- The ICCS 2015 hierarchy: one row per category at any level (section, division, group,
-- class), with the codes and English and Spanish names of its ancestors spelled out, so a
-- fact joined on `iccs_code` can be rolled up to any level without a recursive query.
-- `national_offence_codes` lists the penal-code offences the correspondence table maps
-- exactly to the category; the full correspondence is dim_national_offence.
with

iccs as (

    select * from {{ ref('ref_iccs_categories') }}

),

offences as (

    select * from {{ ref('int_national_offences') }}

),

national_codes as (

    select
        iccs_code,
        string_agg(national_offence_code, ', ' order by national_offence_code)
            as national_offence_codes
    from offences
    where iccs_code <> ''
    group by iccs_code

),

final as (

    select
        iccs.iccs_code,
        cast(iccs.iccs_level as integer) as iccs_level,
        case cast(iccs.iccs_level as integer)
            when 1 then 'section'
            when 2 then 'division'
            when 3 then 'group'
            when 4 then 'class'
        end as iccs_level_name,
        iccs.parent_iccs_code,
        iccs.name_en,
        iccs.name_es,
        iccs.description_es,
        iccs.level_1_code,
        section.name_en as level_1_name_en,
        section.name_es as level_1_name_es,
        iccs.level_2_code,
        division.name_en as level_2_name_en,
        division.name_es as level_2_name_es,
        iccs.level_3_code,
        iccs_group.name_en as level_3_name_en,
        iccs_group.name_es as level_3_name_es,
        iccs.level_4_code,
        class.name_en as level_4_name_en,
        class.name_es as level_4_name_es,
        not exists (
            select 1 from iccs as children
            where children.parent_iccs_code = iccs.iccs_code
        ) as is_leaf,
        national_codes.national_offence_codes

    from iccs
    left join iccs as section
        on iccs.level_1_code = section.iccs_code
    left join iccs as division
        on iccs.level_2_code = division.iccs_code
    left join iccs as iccs_group
        on iccs.level_3_code = iccs_group.iccs_code
    left join iccs as class
        on iccs.level_4_code = class.iccs_code
    left join national_codes
        on iccs.iccs_code = national_codes.iccs_code

)

select * from final
