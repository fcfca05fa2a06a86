{#- Primary small-cell suppression, the rule extracts apply (observatorio/delivery/disclosure.py):
    a count from 1 to threshold - 1 becomes null; zeros and larger counts are published. The
    threshold is the country's `min_cell_size` (macro publication_rules: `_publication.yml`,
    or the active profile's `publication:`), the one the extracts apply too. -#}
{% macro suppress_small_count(expression) -%}
    case
        when {{ is_small_count(expression) }} then null
        else {{ expression }}
    end
{%- endmacro %}

{#- True when `expression` is a count that suppress_small_count hides; `threshold`, an SQL
    expression, replaces the country's where the rule is each row's own (an indicator's
    `min_cell_size`, from its definition). -#}
{% macro is_small_count(expression, threshold=none) -%}
    coalesce(
        {{ expression }} >= 1
        and {{ expression }} < {{ threshold if threshold else publication_rules().min_cell_size }},
        false
    )
{%- endmacro %}
