{#- The publication rules as the active country profile sets them, merged into the definitions
    `indicator_definitions()` returns (it calls this; observatorio.indicators.publication does
    the same in Python): the project's defaults (`definitions.publication`, from
    `_publication.yml`), then the profile's (`profile_reference().publication`, only the keys
    it sets; `decimals` unit by unit), then each definition's own (`indicator.publication`).
    Each indicator gets `min_cell_size`, `min_stable_numerator` and `decimals` (its unit's). -#}
{% macro resolve_publication(definitions) -%}
    {%- set rules = definitions.publication -%}
    {%- set country = profile_reference().get('publication') or {} -%}
    {%- for key, value in country.items() -%}
        {%- if key == 'decimals' -%}
            {%- do rules.decimals.update(value) -%}
        {%- else -%}
            {%- do rules.update({key: value}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for indicator in definitions.indicators -%}
        {%- do indicator.update({
            'min_cell_size': rules.min_cell_size,
            'min_stable_numerator': rules.min_stable_numerator,
            'decimals': rules.decimals.get(indicator.unit, 0),
        }) -%}
        {%- do indicator.update(indicator.publication) -%}
    {%- endfor -%}
    {{ return(definitions) }}
{%- endmacro %}


{#- The country's publication rules for what no single indicator defines (`min_cell_size`
    of the `bi` tables of counts, macro is_small_count). -#}
{% macro publication_rules() -%}
    {{ return(indicator_definitions().publication) }}
{%- endmacro %}
