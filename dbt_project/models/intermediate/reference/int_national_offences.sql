-- The national offence code → ICCS 2015 correspondence (an empty or null ICCS code: no agreed mapping yet).
-- From the profile's table (`offence_codes`): the demo's seed, or a file loaded through its contract.
with

source_rows as (

    {{ reference_rows('offence_codes') }}

),

final as (

    select distinct
        national_offence_code,
        national_offence_name_es,
        iccs_code

    from source_rows

)

select * from final
