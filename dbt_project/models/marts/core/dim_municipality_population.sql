-- Population of each municipality by calendar year (mid-year estimate), in total and by
-- sex: the denominators of the rates, at the grain BI joins them. The full breakdown by
-- five-year age group stays in the seed ref_population.
with

population as (

    select * from {{ ref('int_population') }}

),

municipalities as (

    select * from {{ ref('int_municipalities') }}

),

yearly as (

    select
        municipality_code,
        year,
        sum(population) as population,
        sum(population) filter (where sex = 'M') as population_male,
        sum(population) filter (where sex = 'F') as population_female

    from population
    group by municipality_code, year

),

final as (

    select
        {{ dbt.concat(["yearly.municipality_code", "'|'", "yearly.year"]) }}
            as municipality_year_id,
        yearly.municipality_code,
        municipalities.department_code,
        yearly.year,
        yearly.population,
        coalesce(yearly.population_male, 0) as population_male,
        coalesce(yearly.population_female, 0) as population_female

    from yearly
    left join municipalities
        on yearly.municipality_code = municipalities.municipality_code

)

select * from final
