-- One row per respondent and crime type, from the latest delivery of each respondent's
-- answers (a survey file re-sent or corrected replaces the earlier one).
with

victimisations as (

    select * from {{ ref('stg_interface__survey_victimisation') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by respondent_id, crime_type
            order by ingested_at desc, batch_id desc, source_row desc
        ) as version_rank

    from victimisations

),

final as (

    select
        {{ dbt.concat(["respondent_id", "'|'", "crime_type"]) }} as respondent_crime_id,
        respondent_id,
        survey_year,
        stratum,
        psu,
        municipality_code,
        sex,
        age_group,
        weight,
        crime_type,
        was_victim,
        reported_to_police,
        source_system,
        source_contract,
        batch_id,
        source_file,
        source_row,
        file_sha256

    from ranked
    where version_rank = 1

)

select * from final
