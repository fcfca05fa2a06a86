-- The indicator table for BI: one row per indicator, area (municipality, department or the
-- nation), month, sex, age group and source, with the month as a date, the indicator's
-- names and the area's name and department. The municipal rows are `mart_indicators_monthly`,
-- the department and national rows `mart_indicators_monthly_areas`; `sex` and `age_group`
-- are `all` for the totals and the breakdowns the data records otherwise. The publication
-- rules are each indicator's definition's (bi_dim_indicator): where the numerator or the
-- denominator is a count from 1 to its `min_cell_size` - 1, the row's numbers are suppressed
-- (null, `is_suppressed`): a rate is hidden wherever its count is, as in extracts; values and
-- their intervals are rounded to its `decimals`, and `is_unstable` travels with them. Totals
-- make a hidden count derivable by subtraction (a department less its other municipalities,
-- `all` less the other sex), so the complementary cells are hidden too, in each of the three
-- hierarchies (areas, sexes, age groups; macro complementary_suppression). A department's
-- rows and its municipalities' belong to it; national rows to national logins.
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
        municipal.value_lower_95,
        municipal.value_upper_95,
        municipal.is_unstable,
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
        areas.value_lower_95,
        areas.value_upper_95,
        areas.is_unstable,
        areas.source

    from areas
    left join departments
        on
            areas.area_level = 'department'
            and areas.area_code = departments.department_code

),

-- Each row with its indicator's minimum cell size (its definition's publication rule).
ruled as (

    select
        indicators.*,
        definitions.min_cell_size

    from indicators
    inner join definitions
        on indicators.indicator_code = definitions.indicator_code

),

-- Each row's key and, per hierarchy, the total it adds up to (`*_parent`) and the key its
-- own parts name (`*_self`): areas (municipality < department < nation), sexes and age
-- groups (parts < `all`), all else equal.
located as (

    select
        *,
        concat_ws(
            '|', indicator_code, source, area_level, area_code, sex, age_group, month
        ) as cell_id,
        concat_ws(
            '|', indicator_code, source, sex, age_group,
            case area_level
                when 'municipality' then 'department:' || department_code
                when 'department' then 'national'
            end
        ) as area_parent,
        concat_ws(
            '|', indicator_code, source, sex, age_group,
            case area_level
                when 'department' then 'department:' || area_code
                when 'national' then 'national'
            end
        ) as area_self,
        case
            when sex != 'all'
                then concat_ws('|', indicator_code, source, area_level, area_code, age_group)
        end as sex_parent,
        case
            when sex = 'all'
                then concat_ws('|', indicator_code, source, area_level, area_code, age_group)
        end as sex_self,
        case
            when age_group != 'all'
                then concat_ws('|', indicator_code, source, area_level, area_code, sex)
        end as age_parent,
        case
            when age_group = 'all'
                then concat_ws('|', indicator_code, source, area_level, area_code, sex)
        end as age_self

    from ruled

),

-- concat_ws skips nulls: a national row has no area parent, a municipality no own parts.
located_areas as (

    select
        cell_id,
        month,
        numerator,
        min_cell_size,
        case when area_level != 'national' then area_parent end as area_parent,
        case when area_level != 'municipality' then area_self end as area_self

    from located

),

hidden_by_area as (

    select
        cell_id,
        hide_numerator as hidden

    from ({{ complementary_suppression(
        'located_areas', ['numerator'], 'cell_id', 'area_parent', 'area_self', 'month',
        threshold='min_cell_size'
    ) }}) as protected

),

hidden_by_sex as (

    select
        cell_id,
        hide_numerator as hidden

    from ({{ complementary_suppression(
        'located', ['numerator'], 'cell_id', 'sex_parent', 'sex_self', 'month',
        threshold='min_cell_size'
    ) }}) as protected

),

hidden_by_age as (

    select
        cell_id,
        hide_numerator as hidden

    from ({{ complementary_suppression(
        'located', ['numerator'], 'cell_id', 'age_parent', 'age_self', 'month',
        threshold='min_cell_size'
    ) }}) as protected

),

flagged as (

    select
        located.*,
        {{ is_small_count('located.numerator', 'located.min_cell_size') }}
        or {{ is_small_count('located.denominator', 'located.min_cell_size') }}
        or hidden_by_area.hidden
        or hidden_by_sex.hidden
        or hidden_by_age.hidden as is_suppressed

    from located
    inner join hidden_by_area
        on located.cell_id = hidden_by_area.cell_id
    inner join hidden_by_sex
        on located.cell_id = hidden_by_sex.cell_id
    inner join hidden_by_age
        on located.cell_id = hidden_by_age.cell_id

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
        case
            when not flagged.is_suppressed then round(flagged.value, definitions.decimals)
        end as value,
        case
            when not flagged.is_suppressed
                then round(flagged.value_lower_95, definitions.decimals)
        end as value_lower_95,
        case
            when not flagged.is_suppressed
                then round(flagged.value_upper_95, definitions.decimals)
        end as value_upper_95,
        case when not flagged.is_suppressed then flagged.is_unstable end as is_unstable,
        flagged.is_suppressed,
        flagged.source

    from flagged
    left join definitions
        on flagged.indicator_code = definitions.indicator_code

)

select * from final
