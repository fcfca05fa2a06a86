-- The victimisation survey in the shape of the `survey_victimisation` interface
-- (stg_interface__survey_victimisation checks it): one row per respondent, crime type and
-- delivery of the survey file. SQL, not a contract mapping: the survey is wide, one pair of
-- columns (victim of it, reported it) per crime type, which no column mapping unpivots.
{%- set crime_types = [
    'attempted_homicide', 'assault', 'sexual_violence', 'intrafamily_violence', 'robbery',
    'burglary', 'theft', 'vehicle_theft', 'extortion', 'kidnapping', 'threats', 'fraud',
    'property_damage',
] %}

with

source as (

    select * from {{ source('survey', 'survey__responses') }}

),

renamed as (
    {% for crime_type in crime_types %}
        select
            respondent_id,
            survey_year,
            stratum,
            psu,
            municipality_code,
            municipality_name,
            sex,
            age_group,
            weight,
            '{{ crime_type }}' as crime_type,
            victim_{{ crime_type }} as was_victim,
            -- Only victims are asked whether they reported; null for everybody else.
            case
                when victim_{{ crime_type }} then reported_{{ crime_type }}
            end as reported_to_police,
            {{ interface_source_columns('survey', source('survey', 'survey__responses')) }},
            {{ provenance_columns() }}

        from source
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from renamed
