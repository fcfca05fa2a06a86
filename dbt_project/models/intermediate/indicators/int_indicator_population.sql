-- The population of every municipality and year by sex and age group, and for `all` of
-- either (the rows of `int_population` summed): the denominators of the indicator cells,
-- total (`population`) and female (`female_population`), for each breakdown a cell of
-- `mart_indicators_monthly` can have.
with

population as (

    select * from {{ ref('int_population') }}

),

final as (

    select
        municipality_code,
        year,
        case when grouping(sex) = 1 then 'all' else sex end as sex,
        case when grouping(age_group) = 1 then 'all' else age_group end as age_group,
        sum(population) as population,
        sum(population) filter (where sex = 'F') as female_population

    from population
    group by
        municipality_code,
        year,
        grouping sets ((), (sex), (age_group), (sex, age_group))

)

select * from final
