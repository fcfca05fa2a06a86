{#- A rate per 100,000; null (not zero, not an error) when the denominator is missing or 0. -#}
{% macro per_100k(numerator, denominator) -%}
    case
        when {{ denominator }} > 0
            then round(cast({{ numerator }} as numeric) * 100000 / {{ denominator }}, 6)
    end
{%- endmacro %}

{% macro safe_ratio(numerator, denominator) -%}
    case
        when {{ denominator }} > 0
            then round(cast({{ numerator }} as numeric) / {{ denominator }}, 6)
    end
{%- endmacro %}
