-- Every version of every municipality, with its validity: the profile's geography over time.
with

versions as (

    select * from {{ ref('int_municipality_versions') }}

),

final as (

    select
        municipality_version_id,
        municipality_code,
        version_number,
        municipality_name,
        department_code,
        department_name,
        municipality_type,
        valid_from,
        valid_to,
        is_current

    from versions

)

select * from final
