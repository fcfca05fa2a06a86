{{
    config(
        post_hook="{{ assert_population_covers(this) }}",
    )
}}
-- Every municipality × month of the reporting period, with its population: the frame that
-- makes every indicator dense (a month without cases is a 0, never a missing row). The
-- municipalities are those of the profile's geography that exist in the month (a
-- municipality split off another counts from its first edition on); a month whose year has
-- no population stops the build, naming the year (macro assert_population_covers).
with

municipalities as (

    select * from {{ ref('int_municipalities') }}

),

population as (

    select * from {{ ref('int_indicator_population') }}

),

reports as (

    select * from {{ ref('fct_crime_reports') }}

),

violent_deaths as (

    select * from {{ ref('int_indicator_facts__violent_deaths') }}

),

crime_counts as (

    select * from {{ ref('int_indicator_facts__crime_counts') }}

),

report_period as (

    select
        cast(date_trunc('month', min(incident_date)) as date) as first_month,
        cast(date_trunc('month', max(incident_date)) as date) as last_month

    from reports

),

other_months as (

    select month from violent_deaths
    union all
    select month from crime_counts

),

other_period as (

    select
        to_date(min(month), 'YYYY-MM') as first_month,
        to_date(max(month), 'YYYY-MM') as last_month

    from other_months

),

-- The police records' period where the country has them; else the months its other
-- sources (death records, published counts) cover.
period as (

    select
        coalesce(report_period.first_month, other_period.first_month) as first_month,
        coalesce(report_period.last_month, other_period.last_month) as last_month

    from report_period
    cross join other_period

),

months as (

    select cast(series.month_start as date) as month_start
    from period
    cross join lateral generate_series(
        period.first_month, period.last_month, interval '1 month'
    ) as series (month_start)

),

population_by_year as (

    select
        municipality_code,
        year,
        population,
        female_population

    from population
    where sex = 'all' and age_group = 'all'

),

final as (

    select
        municipalities.municipality_code,
        to_char(months.month_start, 'YYYY-MM') as month,
        months.month_start,
        population_by_year.population,
        population_by_year.female_population

    from municipalities
    inner join months
        on
            (municipalities.valid_from is null or municipalities.valid_from <= months.month_start)
            and (municipalities.valid_to is null or municipalities.valid_to >= months.month_start)
    left join population_by_year
        on
            municipalities.municipality_code = population_by_year.municipality_code
            and extract(year from months.month_start) = population_by_year.year

)

select * from final
