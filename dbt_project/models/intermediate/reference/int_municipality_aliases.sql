-- How each source system spells some municipalities: the lookup that resolves a name typed where a code belongs.
-- From the profile's table (`aliases`): the demo's seed, or a file loaded through its contract.
with

source_rows as (

    {{ reference_rows('aliases') }}

),

final as (

    select distinct
        municipality_code,
        alias,
        source_system

    from source_rows

)

select * from final
