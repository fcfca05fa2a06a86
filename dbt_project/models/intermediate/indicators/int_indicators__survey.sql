-- The victimisation survey's dark figure and adjusted incidence, one pair of indicators per
-- crime type asked about (`dark_figure__<type>`, `adjusted_incidence_rate__<type>`).
-- The survey is yearly: each year's estimate is published in every month of that year
-- (never sum it over months); months of a year without a survey have 0 / 0 / null.
-- Estimates are by the respondent's municipality, so municipal numerators and denominators
-- add up to the survey's department and national estimates. Definitions:
-- seeds/ref_indicators.csv.
{#- The crime types the survey asks about (as int_survey_victimisations_unpivoted); a var
    only so unit tests can narrow it. -#}
{%- set crime_types = var('survey_indicator_crime_types', [
    'attempted_homicide', 'assault', 'sexual_violence', 'intrafamily_violence', 'robbery',
    'burglary', 'theft', 'vehicle_theft', 'extortion', 'kidnapping', 'threats', 'fraud',
    'property_damage',
]) %}

with

spine as (

    select * from {{ ref('int_indicator_spine') }}

),

victimisation as (

    select * from {{ ref('fct_survey_victimisation') }}

),

crime_types as (

    select crime_type
    from (
        values
        {%- for crime_type in crime_types %}
            ('{{ crime_type }}'){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as listed (crime_type)

),

yearly as (

    select
        municipality_code,
        survey_year,
        crime_type,
        sum(weight) as weighted_respondents,
        coalesce(sum(weight) filter (where was_victim), 0) as weighted_victims,
        coalesce(sum(weight) filter (where was_victim and reported_to_police), 0)
            as weighted_reported

    from victimisation
    group by 1, 2, 3

),

cells as (

    select
        spine.municipality_code,
        spine.month,
        crime_types.crime_type,
        coalesce(yearly.weighted_respondents, 0) as weighted_respondents,
        coalesce(yearly.weighted_victims, 0) as weighted_victims,
        coalesce(yearly.weighted_reported, 0) as weighted_reported

    from spine
    cross join crime_types
    left join yearly
        on
            spine.municipality_code = yearly.municipality_code
            and extract(year from spine.month_start) = yearly.survey_year
            and crime_types.crime_type = yearly.crime_type

),

final as (

    select
        'dark_figure__' || crime_type as indicator_code,
        municipality_code,
        month,
        'all' as sex,
        'all' as age_group,
        cast(weighted_reported as numeric) as numerator,
        cast(weighted_victims as numeric) as denominator,
        1 - {{ safe_ratio('weighted_reported', 'weighted_victims') }} as value,
        'survey' as source

    from cells

    union all

    select
        'adjusted_incidence_rate__' || crime_type as indicator_code,
        municipality_code,
        month,
        'all' as sex,
        'all' as age_group,
        cast(weighted_victims as numeric) as numerator,
        cast(weighted_respondents as numeric) as denominator,
        {{ per_100k('weighted_victims', 'weighted_respondents') }} as value,
        'survey' as source

    from cells

)

select * from final
