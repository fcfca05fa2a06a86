-- Police indicators per municipality and month, in the canonical long shape. Definitions
-- and formulas: seeds/ref_indicators.csv (one row per indicator, nowhere else).
with

spine as (

    select * from {{ ref('int_indicator_spine') }}

),

reports as (

    select * from {{ ref('fct_crime_reports') }}

),

monthly as (

    select
        municipality_code,
        to_char(incident_date, 'YYYY-MM') as month,
        count(*) filter (where is_intentional_homicide) as homicides,
        count(*) filter (where is_femicide) as femicides,
        count(distinct report_id) filter (
            where is_intrafamily and iccs_level_1_code in ('01', '02', '03')
        ) as intrafamily_reports,
        count(distinct report_id) filter (where iccs_level_1_code = '03') as sexual_reports

    from reports
    group by 1, 2

),

cells as (

    select
        spine.municipality_code,
        spine.month,
        spine.population,
        spine.female_population,
        coalesce(monthly.homicides, 0) as homicides,
        coalesce(monthly.femicides, 0) as femicides,
        coalesce(monthly.intrafamily_reports, 0) as intrafamily_reports,
        coalesce(monthly.sexual_reports, 0) as sexual_reports

    from spine
    left join monthly
        on
            spine.municipality_code = monthly.municipality_code
            and spine.month = monthly.month

),

final as (

    {{ indicator_rows('cells', [
        ('homicide_count_police', 'homicides', none, 'count'),
        ('homicide_rate_police', 'homicides', 'population', 'per_100k'),
        ('femicide_count', 'femicides', none, 'count'),
        ('femicide_rate', 'femicides', 'female_population', 'per_100k'),
        ('intrafamily_violence_reports', 'intrafamily_reports', none, 'count'),
        ('intrafamily_violence_rate', 'intrafamily_reports', 'population', 'per_100k'),
        ('sexual_violence_reports', 'sexual_reports', none, 'count'),
        ('sexual_violence_rate', 'sexual_reports', 'population', 'per_100k'),
    ], 'police') }}

)

select * from final
