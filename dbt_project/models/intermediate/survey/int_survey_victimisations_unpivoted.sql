-- The survey's wide layout (one pair of columns per crime type) turned into one row per
-- respondent and crime type, from the latest delivery of each respondent's answers.
{%- set crime_types = [
    'attempted_homicide', 'assault', 'sexual_violence', 'intrafamily_violence', 'robbery',
    'burglary', 'theft', 'vehicle_theft', 'extortion', 'kidnapping', 'threats', 'fraud',
    'property_damage',
] %}

with

responses as (

    select * from {{ ref('stg_survey__responses') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by respondent_id
            order by ingested_at desc, batch_id desc, source_row desc
        ) as version_rank

    from responses

),

latest as (

    select * from ranked
    where version_rank = 1

),

unpivoted as (
    {% for crime_type in crime_types %}
        select
            respondent_id,
            survey_year,
            stratum,
            psu,
            municipality_code,
            sex,
            age_group,
            weight,
            '{{ crime_type }}' as crime_type,
            is_victim_{{ crime_type }} as was_victim,
            -- Only victims are asked whether they reported; null for everybody else.
            case
                when is_victim_{{ crime_type }} then has_reported_{{ crime_type }}
            end as reported_to_police,
            batch_id,
            source_file,
            source_row,
            file_sha256

        from latest
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (

    select
        {{ dbt.concat(["respondent_id", "'|'", "crime_type"]) }} as respondent_crime_id,
        *

    from unpivoted

)

select * from final
