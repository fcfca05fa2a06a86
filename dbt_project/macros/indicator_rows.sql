{#- The canonical long rows of an indicator family, from a CTE with one row per
    municipality-month (`cells`) and a list of measures:
      (indicator_code, numerator column, denominator column or none, kind)
    where kind is `count` (value = numerator), `per_100k` or `share` (value = ratio).
    Every family model ends with it, so the unpivot and the rate formulas live here only. -#}
{% macro indicator_rows(cells, measures, source) -%}
    select
        measures.indicator_code,
        {{ cells }}.municipality_code,
        {{ cells }}.month,
        'all' as sex,
        'all' as age_group,
        cast(measures.numerator as numeric) as numerator,
        cast(measures.denominator as numeric) as denominator,
        case measures.kind
            when 'per_100k' then {{ per_100k('measures.numerator', 'measures.denominator') }}
            when 'share' then {{ safe_ratio('measures.numerator', 'measures.denominator') }}
            else cast(measures.numerator as numeric)
        end as value,
        '{{ source }}' as source

    from {{ cells }}
    cross join lateral (
        values
        {%- for code, numerator, denominator, kind in measures %}
        (
            '{{ code }}',
            cast({{ cells }}.{{ numerator }} as numeric),
            {% if denominator %}cast({{ cells }}.{{ denominator }} as numeric){% else %}null::numeric{% endif %},
            '{{ kind }}'
        ){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as measures (indicator_code, numerator, denominator, kind)
{%- endmacro %}
