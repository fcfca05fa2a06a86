-- The indicator table for BI: one row per indicator, area (municipality, department or the
-- nation), month, sex, age group and source, with the month as a date, the indicator's
-- names and the area's name and department. The municipal rows are `mart_indicators_monthly`,
-- the department and national rows `mart_indicators_monthly_areas`; `sex` and `age_group`
-- are `all` for the totals and the breakdowns the data records otherwise. Where the
-- numerator or the denominator is a count from 1 to 9, the row's numbers are suppressed
-- (null, `is_suppressed`): a rate is hidden wherever its count is, as in extracts. A
-- department's rows and its municipalities' belong to it; national rows to national logins.
with

municipal as (

    select * from {{ ref('mart_indicators_monthly') }}

),

areas as (

    select * from {{ ref('mart_indicators_monthly_areas') }}

),

definitions as (

    select * from {{ ref('bi_dim_indicator') }}

),

municipalities as (

    select * from {{ ref('dim_municipality') }}

),

departments as (

    select distinct
        department_code,
        department_name

    from municipalities

),

indicators as (

    select
        'municipality' as area_level,
        municipal.municipality_code as area_code,
        municipalities.municipality_name as area_name,
        municipal.municipality_code,
        municipalities.municipality_name,
        municipalities.department_code,
        municipal.indicator_code,
        municipal.month,
        municipal.sex,
        municipal.age_group,
        municipal.numerator,
        municipal.denominator,
        municipal.value,
        municipal.source

    from municipal
    left join municipalities
        on municipal.municipality_code = municipalities.municipality_code

    union all

    select
        areas.area_level,
        areas.area_code,
        coalesce(departments.department_name, 'Nacional') as area_name,
        cast(null as text) as municipality_code,
        cast(null as text) as municipality_name,
        departments.department_code,
        areas.indicator_code,
        areas.month,
        areas.sex,
        areas.age_group,
        areas.numerator,
        areas.denominator,
        areas.value,
        areas.source

    from areas
    left join departments
        on
            areas.area_level = 'department'
            and areas.area_code = departments.department_code

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
        flagged.area_level,
        flagged.area_code,
        flagged.area_name,
        flagged.municipality_code,
        flagged.municipality_name,
        flagged.department_code,
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

)

select * from final
