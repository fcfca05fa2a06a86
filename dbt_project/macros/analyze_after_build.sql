{#- A post-hook of every model (and of a seed read by lookup, `ref_poisson_exact_95`): a
    table dbt has just built gets its planner statistics now.

    Left to autovacuum, a new table has none for a minute or more, and the models and tests
    that read it at once are planned on default estimates. In a 3M-row end-to-end run, the
    uniqueness test of int_indicator_facts__justice_funnel (a few seconds at 1M, 91 s at
    10M) was still running after 14 minutes, one server process at full CPU, and was stopped;
    with this hook the same case passed it in 68 s (bench/results/e2e.json). Views have no
    statistics of their own: nothing to do (dbt skips an empty hook). -#}
{% macro analyze_after_build() -%}
    {%- if config.get('materialized') in ('table', 'incremental', 'seed') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
