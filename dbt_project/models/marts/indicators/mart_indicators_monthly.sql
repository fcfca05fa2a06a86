-- The canonical indicator table: one row per indicator, municipality, month, sex and age
-- group. Each family of indicators is computed in one intermediate model; this mart only
-- stacks them, so an indicator is defined in exactly one place.
{% set families = [
    'int_indicators__police',
    'int_indicators__police_operations',
    'int_indicators__health',
    'int_indicators__reconciled',
    'int_indicators__justice',
    'int_indicators__survey',
    'int_indicators__coverage',
] %}

with

{% for family in families %}
    {{ family }} as (

        select * from {{ ref(family) }}

    ),

{% endfor %}
stacked as (

    {% for family in families %}
        select * from {{ family }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        indicator_code,
        municipality_code,
        month,
        sex,
        age_group,
        numerator,
        denominator,
        value,
        source

    from stacked

)

select * from final
