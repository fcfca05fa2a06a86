-- The country's municipalities with their department (every municipality the profile's
-- geography has had, with the span it exists in), plus the unknown member `99999` that
-- facts use when neither the code nor the name a source gave resolves. Population by year
-- is in dim_municipality_population (one row per municipality and year), so this dimension
-- keeps one row per municipality and facts join it on `municipality_code` alone.
with

municipalities as (

    select * from {{ ref('int_municipalities') }}

),

aliases as (

    select * from {{ ref('int_municipality_aliases') }}

),

alias_lists as (

    select
        municipality_code,
        string_agg(distinct alias, ' | ' order by alias) as known_aliases
    from aliases
    group by municipality_code

),

known as (

    select
        municipalities.municipality_code,
        municipalities.municipality_name,
        municipalities.department_code,
        municipalities.department_name,
        alias_lists.known_aliases,
        false as is_unknown,
        municipalities.municipality_type,
        municipalities.valid_from,
        municipalities.valid_to,
        '{{ profile_reference()["country_code"] }}' as country_code,
        '{{ profile_reference()["country_name"] | replace("'", "''") }}' as country_name

    from municipalities
    left join alias_lists
        on municipalities.municipality_code = alias_lists.municipality_code

),

unknown as (

    select
        '99999' as municipality_code,
        'Sin municipio' as municipality_name,
        '99' as department_code,
        'Sin departamento' as department_name,
        cast(null as text) as known_aliases,
        true as is_unknown,
        'unknown' as municipality_type,
        cast(null as date) as valid_from,
        cast(null as date) as valid_to,
        '{{ profile_reference()["country_code"] }}' as country_code,
        '{{ profile_reference()["country_name"] | replace("'", "''") }}' as country_name

),

final as (

    select * from known
    union all
    select * from unknown

)

select * from final
