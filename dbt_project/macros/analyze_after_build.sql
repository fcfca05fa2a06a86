{#- A post-hook of every model (and of a seed read by lookup, `ref_poisson_exact_95`): a
    table dbt has just built gets its planner statistics now.

    Left to autovacuum, a new table has none for a minute or more, and the models and tests
    that read it at once are planned on default estimates. In a 3M-row end-to-end run, the
    uniqueness test of int_indicator_facts__justice_funnel (a few seconds at 1M, 91 s at
    10M) was still running after 14 minutes, one server process at full CPU, and was stopped;
    with this hook the same case passed it in 68 s (bench/results/e2e.json). Views have no
    statistics of their own: nothing to do (dbt skips an empty hook).

    An incremental model is analysed as autovacuum would decide (macro analyze_if_changed):
    a build that changed 1 % of its rows leaves the statistics as good as they were, and the
    ANALYZE of a 10M-row fact took 3 to 6 s of each incremental build. -#}
{% macro analyze_after_build() -%}
    {%- set materialized = config.get('materialized') -%}
    {%- if materialized in ('table', 'seed') -%}
        analyze {{ this }}
    {%- elif materialized == 'incremental' -%}
        {{ analyze_if_changed(this) }}
    {%- endif -%}
{%- endmacro %}


{#- ANALYZE `relation` if it has no statistics (new, or rebuilt by a full refresh; its
    `reltuples` is no sign: the model's index builds set it), or if the rows changed since
    its last ANALYZE (those of this transaction, the model's, included) pass autovacuum's
    threshold: 50 rows and 10 % of the table (`autovacuum_analyze_threshold`,
    `autovacuum_analyze_scale_factor`, their defaults). Runs inside the model's transaction,
    where dbt runs its hooks. -#}
{% macro analyze_if_changed(relation) -%}
    do $analyze$
    begin
        if (
            select
                not exists (
                    select from pg_stats as analysed
                    where
                        analysed.schemaname = '{{ relation.schema }}'
                        and analysed.tablename = '{{ relation.identifier }}'
                )
                or coalesce(counted.n_mod_since_analyze, 0)
                + pg_stat_get_xact_tuples_inserted(described.oid)
                + pg_stat_get_xact_tuples_updated(described.oid)
                + pg_stat_get_xact_tuples_deleted(described.oid)
                > 50 + 0.1 * greatest(described.reltuples, 0)
            from pg_class as described
            left join pg_stat_all_tables as counted on described.oid = counted.relid
            where described.oid = '{{ relation.include(database=false) }}'::regclass
        ) then
            analyze {{ relation }};
        end if;
    end
    $analyze$
{%- endmacro %}
