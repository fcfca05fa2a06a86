-- The country's penal-code offences as police and prosecutors record them, each with the
-- ICCS category the correspondence table maps it to and that category's section and
-- division. Offences without an agreed mapping are kept with `is_mapped = false`; codes that
-- records carry but the table does not list at all are in mart_offence_code_coverage.
with

offences as (

    select * from {{ ref('int_national_offences') }}

),

categories as (

    select * from {{ ref('dim_offence') }}

),

final as (

    select
        offences.national_offence_code,
        offences.national_offence_name_es,
        nullif(offences.iccs_code, '') as iccs_code,
        categories.iccs_code is not null as is_mapped,
        categories.iccs_level,
        categories.name_en as iccs_name_en,
        categories.name_es as iccs_name_es,
        categories.level_1_code as iccs_level_1_code,
        categories.level_1_name_en as iccs_level_1_name_en,
        categories.level_1_name_es as iccs_level_1_name_es,
        categories.level_2_code as iccs_level_2_code,
        categories.level_2_name_en as iccs_level_2_name_en,
        categories.level_2_name_es as iccs_level_2_name_es,
        categories.level_3_code as iccs_level_3_code,
        categories.level_4_code as iccs_level_4_code

    from offences
    left join categories
        on nullif(offences.iccs_code, '') = categories.iccs_code

)

select * from final
