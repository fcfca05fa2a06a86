-- The age groups of the profile's population (`00-04` … `80+`), with the ages in completed
-- years each holds: the one definition of an age group, so an indicator published by age
-- group has its population as denominator. A group starts at the number its label begins
-- with and ends where the next one starts; the last is open (`age_to` null).
with

population as (

    select * from {{ ref('int_population') }}

),

labels as (

    select distinct age_group
    from population
    where age_group ~ '^[0-9]+'

),

bounded as (

    select
        age_group,
        cast(substring(age_group from '^[0-9]+') as integer) as age_from

    from labels

),

final as (

    select
        age_group,
        age_from,
        lead(age_from) over (order by age_from) - 1 as age_to

    from bounded

)

select * from final
