{#- `key in (...)`: the records (`key`) with a row of `staging` (aliased `staged`) that
    `unbuilt` (a condition on `staged`: its batch is new) selects, as a list of constants; `false`
    when there are none. Read when the node runs; while dbt parses, `true`. `column`: the
    expression the list is matched against where it is not `key` (the reader's own name).

    Constants, not a subquery: the models these filters read (int_crime_reports_classified and
    the like) rank each record's versions in window functions partitioned by the key, and
    PostgreSQL pushes a filter on the key down through them to the staged rows only when it is
    a plain expression. A semi-join to a subquery stays above the windows, so every staged row
    was ranked (70-80 s at 1M rows for a batch of 1 %). A list of constants is hashed, so a
    large batch stays cheap. Past `changed_records_max_constants` records (a whole file re-sent,
    say) the list would make the SQL itself the cost, and the filter is that semi-join: the
    same records, read the slow way.

    `within`: a column of `staging` and of the reader that the key is part of (a report's
    number, for its victims' `report_id-victim_seq`): the filter then also lists its values,
    which reach the raw table's index where the key, an expression there, could not (the
    reader's windows must be partitioned by it: macro police_versions_resolved). -#}
{% macro changed_records_filter(key, staging, unbuilt, column=none, within=none) -%}
    {%- if not execute -%}
        true
    {%- else -%}
        {%- set most = var('changed_records_max_constants') | int -%}
        {%- set rows -%}
            from {{ staging }} as staged
            where staged.{{ key }} is not null and {{ unbuilt }}
        {%- endset -%}
        {%- set changed = 'select distinct staged.' ~ key ~ ' ' ~ rows -%}
        {%- set listed = 'select distinct staged.' ~ ([key] + ([within] if within else []))
            | join(', staged.') ~ ' ' ~ rows -%}
        {%- set found = run_query(listed ~ ' limit ' ~ (most + 1)) -%}
        {%- set keys = found.columns[0].values() -%}
        {%- set column = column or key -%}
        {%- if keys | length == 0 -%}
            false
        {%- elif keys | length > most -%}
            {{ column }} in ({{ changed }})
        {%- elif within -%}
            {{ column }} in ({{ sql_literals(keys) }})
            and {{ within }} in ({{ sql_literals(found.columns[1].values() | unique | list) }})
        {%- else -%}
            {{ column }} in ({{ sql_literals(keys) }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- The batches published since the last successful build, as a condition on
    `staged.batch_id` (`false` when there are none); none (no condition can be scoped) in a
    `--full-refresh` build, before the first recorded build, or when the ledger cannot say
    which batches that build saw. `not_in`: only those no row of that relation carries (a
    model that keeps each row's batch: what it has not yet built from).

    The last build is the last row of `ops.build_ledger` (observatorio.transform.builds records
    it when a build ends, with the count and the newest publication time of the batches it
    started from). The batches it saw are those published up to that time, provided they are
    as many as it counted; otherwise (a batch published late with an earlier time), nothing
    is scoped.

    The batches are constants: PostgreSQL then estimates a new batch's rows from the raw
    table's statistics and reads them by its index on the batch. Given as a subquery, it
    guessed an average batch (a 10M-row first load makes that millions) and read every raw
    row: 6 to 8 s per model and per scoped test at 10M police rows. -#}
{% macro batches_since_last_build(not_in=none) -%}
    {%- if not execute or flags.FULL_REFRESH -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set last_build -%}
        with last_build as (
            select
                batches_loaded,
                coalesce(latest_batch_at, '-infinity') as seen_until
            from ops.build_ledger
            order by build_id desc
            limit 1
        )
        select
            to_char(last_build.seen_until, 'YYYY-MM-DD"T"HH24:MI:SS.USOF') as seen_until,
            count(batches.batch_id) = last_build.batches_loaded as is_consistent
        from last_build
        left join ops.batch_ledger as batches
            on
                batches.status = 'loaded'
                and batches.finished_at <= last_build.seen_until
        group by last_build.seen_until, last_build.batches_loaded
    {%- endset -%}
    {%- set rows = run_query(last_build).rows -%}
    {%- if rows | length == 0 or not rows[0][1] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set since -%}
        select ledger.batch_id
        from ops.batch_ledger as ledger
        where
            ledger.status = 'loaded'
            and ledger.finished_at > '{{ rows[0][0] }}'::timestamptz
            {%- if not_in is not none %}
            and not exists (
                select 1 from {{ not_in }} as built where built.batch_id = ledger.batch_id
            )
            {%- endif %}
        order by ledger.batch_id
    {%- endset -%}
    {%- set batches = run_query(since).columns[0].values() -%}
    {%- if batches | length == 0 -%}
        {{ return('false') }}
    {%- endif -%}
    {{ return('staged.batch_id in (' ~ sql_literals(batches) ~ ')') }}
{%- endmacro %}


{#- dbt's hook for a test's `where` (overridden here, as dbt's docs show): a test of a model
    whose meta names its records (`changed_records: {key: ..., staging: ...}`, a model built
    from that staging model's rows and the seeds alone) checks, in an incremental build, only
    the records the batches since the last build changed. The others were checked by an
    earlier build under the same project (a changed project means a full refresh, which checks
    every record). A model with other rows too names the column holding the record in its
    own rows (`column`, else `key`) and the condition selecting those rows (`rows`): its other
    rows are all checked (the justice funnel: its police reports by report, its cases all). A
    test's own `where` still applies.

    A `unique` or `not_null` test of a column the table itself enforces (macro
    enforced_by_catalog: a primary key or unique index on that column alone, a NOT NULL column)
    reads the catalog instead of the rows: PostgreSQL evaluates the condition once and, where
    the table enforces it, scans nothing; where it does not (a view, a key dropped), every row
    is checked as before. -#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- if config.get('where') -%}
        {%- do conditions.append(config.get('where')) -%}
    {%- endif -%}
    {%- set tested = graph.nodes.get(model.attached_node) if execute and model.attached_node -%}
    {%- set records = tested.config.meta.get('changed_records') if tested -%}
    {%- if records -%}
        {%- set unbuilt = batches_since_last_build() -%}
        {%- if unbuilt -%}
            {%- set staging = graph.nodes['model.' ~ project_name ~ '.' ~ records.staging] -%}
            {%- set staged = api.Relation.create(
                database=staging.database, schema=staging.schema, identifier=staging.alias
            ) -%}
            {%- set changed = changed_records_filter(records.key, staged, unbuilt,
                column=records.get('column')) -%}
            {%- if records.get('rows') -%}
                {%- set changed = '((' ~ records.rows ~ ') is not true or ' ~ changed ~ ')' -%}
            {%- endif -%}
            {%- do conditions.append(changed) -%}
        {%- endif -%}
    {%- endif -%}
    {%- set guarantee = enforced_by_catalog(relation) if execute and model.test_metadata else none -%}
    {%- if guarantee -%}
        {%- do conditions.append('not ' ~ guarantee) -%}
    {%- endif -%}
    {%- if conditions -%}
        {{ return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}


{#- For the `unique` or `not_null` test being rendered (`model` is the test node), the
    condition that the catalog shows `relation` enforcing it on the tested column: a primary
    key or a unique index (no predicate, no expression) on that column alone, or the column's
    NOT NULL; none for other tests. False for a view or a table without it. -#}
{% macro enforced_by_catalog(relation) -%}
    {%- set test = model.test_metadata.name -%}
    {%- set column = model.column_name -%}
    {%- if test not in ('unique', 'not_null') or not column -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set table = "to_regclass('" ~ relation.include(database=false) ~ "')" -%}
    {%- set attribute = "select attribute.attnum from pg_attribute as attribute where"
        ~ " attribute.attrelid = " ~ table ~ " and attribute.attname = '" ~ column ~ "'" -%}
    {%- if test == 'not_null' -%}
        {{ return("exists (" ~ attribute ~ " and attribute.attnotnull)") }}
    {%- endif -%}
    {{ return("exists (select 1 from pg_index as catalog_index where catalog_index.indrelid = "
        ~ table ~ " and catalog_index.indisunique and catalog_index.indnkeyatts = 1"
        ~ " and catalog_index.indpred is null and catalog_index.indexprs is null"
        ~ " and catalog_index.indkey[0] = (" ~ attribute ~ "))") }}
{%- endmacro %}


{#- `values` as SQL string literals, comma-separated: the changed records and the new
    batches the filters above list as constants. -#}
{% macro sql_literals(values) -%}
    {%- set quoted = [] -%}
    {%- for value in values -%}
        {%- do quoted.append("'" ~ (value | string | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {{ return(quoted | join(', ')) }}
{%- endmacro %}
