{%- set crime_types = [
    'attempted_homicide', 'assault', 'sexual_violence', 'intrafamily_violence', 'robbery',
    'burglary', 'theft', 'vehicle_theft', 'extortion', 'kidnapping', 'threats', 'fraud',
    'property_damage',
] -%}

with

source as (

    select * from {{ source('survey', 'survey__responses') }}

),

renamed as (

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
        {%- for crime_type in crime_types %}
            victim_{{ crime_type }} as is_victim_{{ crime_type }},
            reported_{{ crime_type }} as has_reported_{{ crime_type }},
        {%- endfor %}
        {{ provenance_columns() }}

    from source

)

select * from renamed
