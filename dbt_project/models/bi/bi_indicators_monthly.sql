-- The indicator table for BI: one row per indicator, municipality, month, sex and age group,
-- with the month as a date, the indicator's names and the municipality's department. Where
-- the numerator or the denominator is a count from 1 to 9, the row's numbers are suppressed
-- (null, `is_suppressed`): a rate is hidden wherever its count is, as in extracts.
with

indicators as (

    select * from {{ ref('mart_indicators_monthly') }}

),

definitions as (

    select * from {{ ref('bi_dim_indicator') }}

),

municipalities as (

    select * from {{ ref('dim_municipality') }}

),

flagged as (

    select
        *,
        {{ is_small_count('numerator') }}
        or {{ is_small_count('denominator') }} as is_suppressed

    from indicators

),

final as (

    select
        flagged.indicator_code,
        definitions.indicator_name_es,
        definitions.indicator_name_en,
        definitions.unit,
        flagged.municipality_code,
        municipalities.municipality_name,
        municipalities.department_code,
        cast(flagged.month || '-01' as date) as month,
        flagged.sex,
        flagged.age_group,
        case when not flagged.is_suppressed then flagged.numerator end as numerator,
        case when not flagged.is_suppressed then flagged.denominator end as denominator,
        case when not flagged.is_suppressed then flagged.value end as value,
        flagged.is_suppressed,
        flagged.source

    from flagged
    left join definitions
        on flagged.indicator_code = definitions.indicator_code
    left join municipalities
        on flagged.municipality_code = municipalities.municipality_code

)

select * from final
