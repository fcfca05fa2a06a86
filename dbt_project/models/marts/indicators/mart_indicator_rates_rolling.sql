-- Rolling rates for small places: every rate of counted events over a population (the
-- indicators with an exact Poisson interval, dbt_project/indicators/*.yml) over the 12 and
-- the 36 months ending in each month, annualised: the window's events over its person-years
-- (the sum of the months' populations ÷ 12), per 100 000 a year. A municipality of 8,000
-- people has a monthly rate of 0 or 12.5; its 3-year rate says something. Each window
-- carries the exact (Garwood) 95 % interval of its event count, scaled like the rate, and is
-- unstable when it holds fewer events than the definition's `min_stable_numerator`. Only
-- complete windows (every month of it in the mart, each with a population) are published.
with

indicators as (

    select * from {{ ref('mart_indicators_monthly') }}

),

definitions as (

    select
        indicator_code,
        value_precision,
        min_stable_numerator

    from (
        values
        {%- for indicator in indicator_definitions().indicators
            if indicator.poisson_interval %}
            (
                '{{ indicator.code }}',
                {{ indicator.precision }},
                {{ indicator.min_stable_numerator }}
            )
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    ) as listed (indicator_code, value_precision, min_stable_numerator)

),

-- The totals of each rate, with the month as a date for the window frames.
monthly as (

    select
        indicators.indicator_code,
        indicators.municipality_code,
        indicators.sex,
        indicators.age_group,
        indicators.source,
        indicators.month,
        cast(indicators.month || '-01' as date) as month_start,
        indicators.numerator,
        indicators.denominator

    from indicators
    inner join definitions
        on indicators.indicator_code = definitions.indicator_code
    where indicators.sex = 'all' and indicators.age_group = 'all'

),

-- Each window's sums by a range frame over the month (months missing from the mart, as
-- before a municipality existed, do not count: the window is then incomplete).
summed as (

    select
        indicator_code,
        municipality_code,
        sex,
        age_group,
        source,
        month,
        {%- for months in [12, 36] %}
            sum(numerator) over last_{{ months }} as events_{{ months }},
            sum(denominator) over last_{{ months }} / 12.0 as person_years_{{ months }},
            count(denominator) over last_{{ months }} as months_{{ months }},
            first_value(month) over last_{{ months }} as first_month_{{ months }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from monthly
    window
        {%- for months in [12, 36] %}
            last_{{ months }} as (
                partition by indicator_code, municipality_code, sex, age_group, source
                order by month_start
                range between interval '{{ months - 1 }} months' preceding and current row
            ){% if not loop.last %},{% endif %}
        {%- endfor %}

),

windows as (

    {%- for months in [12, 36] %}
        select
            indicator_code,
            municipality_code,
            sex,
            age_group,
            source,
            month,
            {{ months }} as window_months,
            first_month_{{ months }} as first_month,
            events_{{ months }} as events,
            person_years_{{ months }} as person_years

        from summed
        where months_{{ months }} = {{ months }} and person_years_{{ months }} > 0
        {%- if not loop.last %}

            union all
        {% endif %}
    {%- endfor %}

),

final as (

    select
        windows.indicator_code,
        windows.municipality_code,
        windows.month,
        windows.sex,
        windows.age_group,
        windows.source,
        windows.window_months,
        windows.first_month,
        windows.events,
        round(windows.person_years, 2) as person_years,
        round(
            windows.events * 100000 / windows.person_years, definitions.value_precision
        ) as rate_per_100k_year,
        round(
            {{ poisson_exact_95('windows.events', 'lower') }} * 100000 / windows.person_years,
            definitions.value_precision
        ) as rate_lower_95,
        round(
            {{ poisson_exact_95('windows.events', 'upper') }} * 100000 / windows.person_years,
            definitions.value_precision
        ) as rate_upper_95,
        windows.events < definitions.min_stable_numerator as is_unstable

    from windows
    inner join definitions
        on windows.indicator_code = definitions.indicator_code

)

select * from final
