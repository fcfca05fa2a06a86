-- The calendar: one row per day, from 1 January of the first year the warehouse has data or
-- population for, to 31 December of the last. Extends itself when a fact brings an earlier or
-- later date, so every date in the marts finds its day here.
with

population as (

    select * from {{ ref('int_population') }}

),

crime_reports as (

    select * from {{ ref('fct_crime_reports') }}

),

detentions as (

    select * from {{ ref('fct_detentions') }}

),

prosecution_cases as (

    select * from {{ ref('fct_prosecution_cases') }}

),

violent_deaths as (

    select * from {{ ref('fct_violent_deaths') }}

),

injury_admissions as (

    select * from {{ ref('fct_injury_admissions') }}

),

event_dates as (

    select
        make_date(min(year), 1, 1) as first_date,
        make_date(max(year), 12, 31) as last_date
    from population
    union all
    select
        min(incident_date) as first_date,
        max(incident_date) as last_date
    from crime_reports
    union all
    select
        min(detention_date) as first_date,
        max(detention_date) as last_date
    from detentions
    union all
    select
        min(opened_date) as first_date,
        max(opened_date) as last_date
    from prosecution_cases
    union all
    select
        min(death_date) as first_date,
        max(death_date) as last_date
    from violent_deaths
    union all
    select
        min(admission_date) as first_date,
        max(admission_date) as last_date
    from injury_admissions

),

date_range as (

    select
        cast(date_trunc('year', min(first_date)) as date) as first_date,
        cast(date_trunc('year', max(last_date)) + interval '1 year - 1 day' as date) as last_date
    from event_dates

),

days as (

    select cast(calendar.day as date) as date_day
    from date_range
    cross join lateral generate_series(
        date_range.first_date, date_range.last_date, interval '1 day'
    ) as calendar (day)

),

final as (

    select
        date_day,
        cast(to_char(date_day, 'YYYYMMDD') as integer) as date_id,
        cast(extract(year from date_day) as integer) as year,
        cast(extract(quarter from date_day) as integer) as quarter,
        cast(extract(month from date_day) as integer) as month_number,
        to_char(date_day, 'YYYY-MM') as month,
        cast(date_trunc('month', date_day) as date) as month_start_date,
        (array[
            'enero', 'febrero', 'marzo', 'abril', 'mayo', 'junio', 'julio', 'agosto',
            'septiembre', 'octubre', 'noviembre', 'diciembre'
        ])[cast(extract(month from date_day) as integer)] as month_name_es,
        (array[
            'January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
            'September', 'October', 'November', 'December'
        ])[cast(extract(month from date_day) as integer)] as month_name_en,
        cast(extract(day from date_day) as integer) as day_of_month,
        cast(extract(doy from date_day) as integer) as day_of_year,
        cast(extract(isoyear from date_day) as integer) as iso_year,
        cast(extract(week from date_day) as integer) as iso_week,
        to_char(date_day, 'IYYY-"W"IW') as iso_week_label,
        cast(date_trunc('week', date_day) as date) as iso_week_start_date,
        cast(extract(isodow from date_day) as integer) as iso_day_of_week,
        (array[
            'lunes', 'martes', 'miércoles', 'jueves', 'viernes', 'sábado', 'domingo'
        ])[cast(extract(isodow from date_day) as integer)] as day_name_es,
        (array[
            'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'
        ])[cast(extract(isodow from date_day) as integer)] as day_name_en,
        extract(isodow from date_day) in (6, 7) as is_weekend,
        cast(
            extract(day from date_trunc('month', date_day) + interval '1 month - 1 day')
            as integer
        ) as days_in_month

    from days

)

select * from final
