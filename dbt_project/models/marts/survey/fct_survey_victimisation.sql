-- Victimisation survey answers, one row per respondent and crime type, with the expansion
-- factor: sum(weight) where was_victim estimates the adult victims of the year, and
-- sum(weight) where reported_to_police over it the reporting rate (the dark figure's complement).
with

victimisations as (

    select * from {{ ref('int_survey_victimisations_deduplicated') }}

),

municipalities as (

    select * from {{ ref('int_municipalities') }}

),

final as (

    select
        victimisations.respondent_crime_id,
        victimisations.respondent_id,
        victimisations.survey_year,
        victimisations.stratum,
        victimisations.psu,
        victimisations.municipality_code,
        municipalities.department_code,
        victimisations.sex,
        victimisations.age_group,
        cast(victimisations.weight as numeric(14, 2)) as weight,
        victimisations.crime_type,
        victimisations.was_victim,
        victimisations.reported_to_police,
        victimisations.batch_id,
        victimisations.source_file,
        victimisations.source_row,
        victimisations.file_sha256

    from victimisations
    left join municipalities
        on victimisations.municipality_code = municipalities.municipality_code

)

select * from final
