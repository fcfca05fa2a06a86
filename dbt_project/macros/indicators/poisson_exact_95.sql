{#- The exact (Garwood) 95 % bound (`lower` or `upper`) of a Poisson mean for an event
    count: chi2(0.025; 2x) / 2 and chi2(0.975; 2x + 2) / 2. PostgreSQL has no chi-square
    quantile: counts the seed `ref_poisson_exact_95` lists (0 to 1,000, written with scipy
    by observatorio.indicators.poisson) take its exact values; larger ones the
    Wilson-Hilferty cube-root approximation, relative error under 6e-7 there. Qualify
    `count` (`cells.numerator`): the lookup's own column is `event_count`. -#}
{% macro poisson_exact_95(count, bound) -%}
    {%- set x = 'cast(' ~ count ~ ' as numeric)' -%}
    coalesce(
        (
            select poisson_bounds.{{ bound }}_95
            from {{ ref('ref_poisson_exact_95') }} as poisson_bounds
            where poisson_bounds.event_count = {{ count }}
        ),
        {%- if bound == 'lower' %}
        {{ x }} * power(1 - 1 / (9 * {{ x }}) - 1.959963984540054 / (3 * sqrt({{ x }})), 3)
        {%- else %}
        ({{ x }} + 1) * power(
            1 - 1 / (9 * ({{ x }} + 1)) + 1.959963984540054 / (3 * sqrt({{ x }} + 1)), 3
        )
        {%- endif %}
    )
{%- endmacro %}
