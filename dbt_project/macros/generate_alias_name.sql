{#- Models of the `bi` folder are named `bi_<name>` (dbt names are project-wide, and marts
    already have `dim_municipality`) but land as `bi.<name>`: BI users see `bi.dim_municipality`,
    `bi.indicators_monthly`. Every other model keeps its own name. -#}
{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
    {%- if custom_alias_name -%}
        {{ custom_alias_name | trim }}
    {%- elif node.resource_type == 'model' and node.fqn[1] == 'bi' and node.name.startswith('bi_') -%}
        {{ node.name[3:] }}
    {%- elif node.version -%}
        {{ return(node.name ~ "_v" ~ (node.version | replace(".", "_"))) }}
    {%- else -%}
        {{ node.name }}
    {%- endif -%}
{%- endmacro %}
