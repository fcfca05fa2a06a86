-- Forensic (health) indicators per municipality and month of death, and the police/health
-- homicide ratio that shows how far the two systems disagree. Definitions:
-- seeds/ref_indicators.csv.
with

spine as (

    select * from {{ ref('int_indicator_spine') }}

),

deaths as (

    select
        municipality_code,
        to_char(death_date, 'YYYY-MM') as month,
        count(*) filter (where is_homicide) as homicides,
        count(*) filter (where is_legal_intervention) as legal_intervention,
        count(*) filter (where intent = 'undetermined') as undetermined,
        count(*) as violent_deaths

    from {{ ref('fct_violent_deaths') }}
    group by 1, 2

),

police as (

    select
        municipality_code,
        month,
        numerator as police_homicides

    from {{ ref('int_indicators__police') }}
    where indicator_code = 'homicide_count_police'

),

cells as (

    select
        spine.municipality_code,
        spine.month,
        spine.population,
        coalesce(deaths.homicides, 0) as homicides,
        coalesce(deaths.legal_intervention, 0) as legal_intervention,
        coalesce(deaths.undetermined, 0) as undetermined,
        coalesce(deaths.violent_deaths, 0) as violent_deaths,
        coalesce(police.police_homicides, 0) as police_homicides

    from spine
    left join deaths
        on spine.municipality_code = deaths.municipality_code and spine.month = deaths.month
    left join police
        on spine.municipality_code = police.municipality_code and spine.month = police.month

),

final as (

    {{ indicator_rows('cells', [
        ('homicide_count_health', 'homicides', none, 'count'),
        ('homicide_rate_health', 'homicides', 'population', 'per_100k'),
        ('legal_intervention_deaths', 'legal_intervention', none, 'count'),
        ('undetermined_intent_share', 'undetermined', 'violent_deaths', 'share'),
        ('homicide_police_health_ratio', 'police_homicides', 'homicides', 'share'),
    ], 'health') }}

)

select * from final
