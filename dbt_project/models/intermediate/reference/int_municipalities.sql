-- One row per municipality the profile's geography has ever had: its latest version (name,
-- department, type) and the span it exists in (`valid_from` of its first version, null
-- for since always; `valid_to` of its last, null while it exists). What facts, the spine
-- and the dimensions read for "the municipalities", whatever the profile.
with

versions as (

    select * from {{ ref('int_municipality_versions') }}

),

spans as (

    select
        municipality_code,
        min(valid_from) as valid_from,
        bool_or(valid_from is null) as since_always,
        max(version_number) as last_version

    from versions
    group by municipality_code

),

final as (

    select
        versions.municipality_code,
        versions.municipality_name,
        versions.department_code,
        versions.department_name,
        versions.municipality_type,
        case when spans.since_always then null else spans.valid_from end as valid_from,
        versions.valid_to,
        versions.is_current

    from versions
    inner join spans
        on
            versions.municipality_code = spans.municipality_code
            and versions.version_number = spans.last_version

)

select * from final
