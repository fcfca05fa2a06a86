-- Population by municipality, year, sex and five-year age group (mid-year estimates): the
-- denominators of every rate. From the demo's seed, or from the statistics office's
-- projections loaded through their contract; there, only the rows for the whole
-- municipality count (`area` total, when the layout splits urban and rural), and a
-- municipality-year sent again in a later file replaces the earlier one.
{% set from_seed = reference_is_seed('population') %}
{% set has_area = false %}
{% if not from_seed and execute %}
    {% set columns = adapter.get_columns_in_relation(reference_relation('population')) %}
    {% set has_area = 'area' in columns | map(attribute='name') | list %}
{% endif %}
with

{% if from_seed %}
    population as (

        select
            municipality_code,
            year,
            sex,
            age_group,
            population

        from {{ reference_relation('population') }}

    ),
{% else %}
    loaded as (

        select * from {{ reference_relation('population') }}
        {% if has_area %}where area = 'total'{% endif %}

    ),

    latest as (

        select distinct on (municipality_code, year)
            municipality_code,
            year,
            _batch_id

        from loaded
        order by municipality_code, year, _ingested_at desc

    ),

    population as (

        select
            loaded.municipality_code,
            loaded.year,
            loaded.sex,
            loaded.age_group,
            sum(loaded.population) as population

        from loaded
        inner join latest
            on
                loaded.municipality_code = latest.municipality_code
                and loaded.year = latest.year
                and loaded._batch_id = latest._batch_id
        group by 1, 2, 3, 4

    ),
{% endif %}

final as (

    select
        cast(municipality_code as text) as municipality_code,
        cast(year as integer) as year,
        cast(sex as text) as sex,
        cast(age_group as text) as age_group,
        cast(population as integer) as population

    from population

)

select * from final
