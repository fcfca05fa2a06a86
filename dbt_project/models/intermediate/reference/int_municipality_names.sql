-- Every way a municipality is written, normalised (accents, case, spaces, dots folded), with
-- its code: official names and the spellings each system uses. Facts resolve a name typed
-- where a code belongs through this one lookup.
with

municipalities as (

    select * from {{ ref('int_municipality_versions') }}

),

aliases as (

    select * from {{ ref('int_municipality_aliases') }}

),

spellings as (

    select
        municipality_code,
        municipality_name as spelling
    from municipalities
    union
    select
        municipality_code,
        alias as spelling
    from aliases

),

final as (

    select distinct
        {{ normalise_text('spelling') }} as name_key,
        municipality_code

    from spellings

)

select * from final
