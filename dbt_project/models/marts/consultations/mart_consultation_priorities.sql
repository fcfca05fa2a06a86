-- The citizens' priority issues, nationally: how often and how strongly the consultations
-- chose each one, the indicator it maps to, and how that indicator is trending (the last 3
-- months of the period against the 3 before, national totals). A priority that names an
-- indicator maps to it; one that names a crime type maps to the survey's
-- `adjusted_incidence_rate__<type>` when the observatory publishes it, else to nothing.
with

priorities as (

    select * from {{ ref('fct_consultation_priorities') }}

),

indicators as (

    select * from {{ ref('mart_indicators_monthly') }}

),

definitions as (

    select * from {{ ref('ref_indicators') }}

),

topics as (

    select
        coalesce(indicator_code, crime_type) as topic_code,
        topic_kind,
        mode() within group (order by topic_label) as topic_label,
        count(distinct consultation_id) as consultations,
        count(distinct municipality_code) as municipalities,
        sum(votes) as votes,
        sum(participants) as participants,
        round(avg(priority_rank), 2) as mean_rank,
        count(*) filter (where priority_rank = 1) as times_ranked_first,
        min(consultation_date) as first_consultation_date,
        max(consultation_date) as last_consultation_date

    from priorities
    group by 1, 2

),

mapped as (

    select
        topics.*,
        definitions.indicator_code,
        definitions.name_en as indicator_name_en,
        definitions.name_es as indicator_name_es,
        definitions.unit as indicator_unit,
        definitions.formula as indicator_formula

    from topics
    left join definitions
        on
            definitions.indicator_code = case
                when topics.topic_kind = 'indicator' then topics.topic_code
                else 'adjusted_incidence_rate__' || topics.topic_code
            end

),

latest as (

    select max(month) as latest_month
    from indicators

),

-- National totals of each indicator over the two 3-month windows and the latest month.
windows as (

    select
        indicators.indicator_code,
        case
            when indicators.month = latest.latest_month then 'latest'
        end as is_latest,
        case
            when
                to_date(indicators.month, 'YYYY-MM')
                > to_date(latest.latest_month, 'YYYY-MM') - interval '3 months'
                then 'last_3'
            when
                to_date(indicators.month, 'YYYY-MM')
                > to_date(latest.latest_month, 'YYYY-MM') - interval '6 months'
                then 'previous_3'
        end as trend_window,
        indicators.numerator,
        indicators.denominator

    from indicators
    cross join latest
    where
        indicators.sex = 'all'
        and indicators.age_group = 'all'
        and to_date(indicators.month, 'YYYY-MM')
        > to_date(latest.latest_month, 'YYYY-MM') - interval '6 months'

),

totals as (

    select
        indicator_code,
        sum(numerator) filter (where is_latest = 'latest') as latest_numerator,
        sum(denominator) filter (where is_latest = 'latest') as latest_denominator,
        sum(numerator) filter (where trend_window = 'last_3') as last_3_numerator,
        sum(denominator) filter (where trend_window = 'last_3') as last_3_denominator,
        sum(numerator) filter (where trend_window = 'previous_3') as previous_3_numerator,
        sum(denominator) filter (where trend_window = 'previous_3') as previous_3_denominator,
        count(distinct trend_window) as windows_present

    from windows
    group by 1

),

-- A national value from summed numerators and denominators, by the indicator's formula
-- (counts add up; rates and shares are recomputed; medians do not add up and stay null).
valued as (

    select
        mapped.*,
        latest.latest_month,
        totals.windows_present,
        {% for window in ['latest', 'last_3', 'previous_3'] %}
            {%- set numerator = 'totals.' ~ window ~ '_numerator' %}
            {%- set denominator = 'totals.' ~ window ~ '_denominator' %}
            case
                when mapped.indicator_formula = 'numerator'
                    then {{ numerator }}
                when mapped.indicator_formula like '%100000%'
                    then {{ per_100k(numerator, denominator) }}
                when mapped.indicator_formula like '1 −%'
                    then 1 - {{ safe_ratio(numerator, denominator) }}
                when mapped.indicator_formula = 'numerator ÷ denominator'
                    then {{ safe_ratio(numerator, denominator) }}
            end as {{ window }}_value{% if not loop.last %},{% endif %}
        {% endfor %}

    from mapped
    cross join latest
    left join totals
        on mapped.indicator_code = totals.indicator_code

),

final as (

    select
        topic_kind || ':' || topic_code as priority_id,
        dense_rank() over (
            order by votes desc, consultations desc, topic_code asc
        ) as priority_rank,
        topic_code,
        topic_kind,
        topic_label,
        consultations,
        municipalities,
        cast(votes as bigint) as votes,
        cast(participants as bigint) as participants,
        {{ safe_ratio('votes', 'participants') }} as vote_share,
        mean_rank,
        times_ranked_first,
        first_consultation_date,
        last_consultation_date,
        indicator_code,
        indicator_name_en,
        indicator_name_es,
        indicator_unit,
        latest_month,
        latest_value,
        last_3_value as last_3_months_value,
        previous_3_value as previous_3_months_value,
        case
            when windows_present = 2 then last_3_value - previous_3_value
        end as trend_change,
        case
            when windows_present < 2 or last_3_value is null or previous_3_value is null
                then 'unknown'
            when last_3_value > previous_3_value then 'up'
            when last_3_value < previous_3_value then 'down'
            else 'flat'
        end as trend

    from valued

)

select * from final
