{#- Accent- and case-insensitive text for matching names typed differently across systems. -#}
{% macro normalise_text(expression) -%}
    {{ return(adapter.dispatch('normalise_text', 'observatorio')(expression)) }}
{%- endmacro %}

{% macro postgres__normalise_text(expression) -%}
    upper(regexp_replace(trim(translate(
        {{ expression }},
        'áéíóúüñÁÉÍÓÚÜÑàèìòùÀÈÌÒÙ.',
        'aeiouunAEIOUUNaeiouAEIOU '
    )), '\s+', ' ', 'g'))
{%- endmacro %}
