-- The history of every municipality: one row per version, a version being the editions in
-- a row in which the municipality kept the same name, department and type. A municipality
-- split off another after year X first appears in the first edition after X, so its first
-- version starts then; one that merged into another ends the day before the first edition
-- without it; a renamed one gets a new version. `valid_to` is inclusive, null while current.
with

editions as (

    {{ reference_editions('geography') }}

),

municipality_editions as (

    select * from {{ ref('int_municipality_editions') }}

),

next_editions as (

    select
        edition_rank,
        lead(valid_from) over (order by edition_rank) as next_valid_from,
        edition_rank = max(edition_rank) over () as is_last

    from editions

),

compared as (

    select
        *,
        case
            when
                lag(edition_rank) over by_code = edition_rank - 1
                and lag(municipality_name) over by_code = municipality_name
                and lag(department_code) over by_code = department_code
                and lag(department_name) over by_code = department_name
                and lag(municipality_type) over by_code = municipality_type
                then 0
            else 1
        end as starts_version

    from municipality_editions
    window by_code as (partition by municipality_code order by edition_rank)

),

numbered as (

    select
        *,
        sum(starts_version) over (
            partition by municipality_code order by edition_rank
            rows between unbounded preceding and current row
        ) as version_number

    from compared

),

versions as (

    select
        municipality_code,
        version_number,
        min(municipality_name) as municipality_name,
        min(department_code) as department_code,
        min(department_name) as department_name,
        min(municipality_type) as municipality_type,
        min(valid_from) as valid_from,
        max(edition_rank) as last_edition_rank

    from numbered
    group by municipality_code, version_number

),

final as (

    select
        {{ dbt.concat(["versions.municipality_code", "'|'", "versions.version_number"]) }}
            as municipality_version_id,
        versions.municipality_code,
        cast(versions.version_number as integer) as version_number,
        versions.municipality_name,
        versions.department_code,
        versions.department_name,
        versions.municipality_type,
        versions.valid_from,
        cast(next_editions.next_valid_from - 1 as date) as valid_to,
        next_editions.is_last as is_current

    from versions
    inner join next_editions
        on versions.last_edition_rank = next_editions.edition_rank

)

select * from final
