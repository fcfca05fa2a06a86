-- Each edition of the country's geography as the profile gives it: the municipalities with
-- their department, one row per municipality and edition. The demo's seed is one edition
-- valid since always; a statistics office's table (DIVIPOLA, IBGE's DTB, INEGI's catalogue)
-- is loaded through its contract, one file per edition, each valid from the date the
-- profile says (observatorio/core/profile.py). A layout without a type column (IBGE's) has
-- municipalities only.
{% set has_type = true %}
{% if not reference_is_seed('geography') and execute %}
    {% set columns = adapter.get_columns_in_relation(reference_relation('geography')) %}
    {% set has_type = 'municipality_type' in columns | map(attribute='name') | list %}
{% endif %}
with

editions as (

    {{ reference_editions('geography') }}

),

municipalities as (

    {% if reference_is_seed('geography') %}
        select
            municipality_code,
            municipality_name,
            department_code,
            department_name,
            'municipality' as municipality_type,
            cast(null as text) as file_name

        from {{ reference_relation('geography') }}
    {% else %}
        select
            municipality_code,
            municipality_name,
            department_code,
            department_name,
            {{ 'municipality_type' if has_type else "'municipality'" }} as municipality_type,
            file_name

        from ({{ latest_reference_rows(reference_relation('geography')) }}) as loaded
    {% endif %}

),

final as (

    select
        municipalities.municipality_code,
        municipalities.municipality_name,
        municipalities.department_code,
        municipalities.department_name,
        municipalities.municipality_type,
        editions.edition_rank,
        editions.valid_from

    from municipalities
    inner join editions
        on municipalities.file_name is not distinct from editions.file_name

)

select * from final
