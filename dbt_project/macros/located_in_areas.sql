{#- The rows of CTE `rows` (with a `municipality_code`) once per area they count in, as
    `area_level`, `area_code` and the row's columns: always the country, and the department and
    the municipality when the municipality is known (CTEs `memberships`, one row per known
    municipality and area, and `municipalities`, of the calling model). A row of an unknown
    municipality (`99999`) counts in the country only. -#}
{% macro located_in_areas(rows) -%}
    select
        memberships.area_level,
        memberships.area_code,
        {{ rows }}.*

    from {{ rows }}
    inner join memberships
        on {{ rows }}.municipality_code = memberships.municipality_code

    union all

    select
        'national' as area_level,
        'all' as area_code,
        {{ rows }}.*

    from {{ rows }}
    left join municipalities
        on {{ rows }}.municipality_code = municipalities.municipality_code
    where municipalities.municipality_code is null
{%- endmacro %}
