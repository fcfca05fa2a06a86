{#- A canonical interface (`violent_deaths`, `crime_counts`, `crime_events`, ...) as the union
    of every source that maps into it. The mappings are the contracts' `interface:` sections,
    which `observatorio.transform.sources` writes into the generated sources file as each
    table's `meta.interface`: read here from dbt's graph, so a new contract feeds its interface
    with no SQL written. Each part: the mapped columns cast to the interface's types, constants,
    nulls for what the source does not say, the source's label and the row's provenance; a
    mapping with `latest_by` keeps the latest version of each `record_id`. With no source
    mapped (and while dbt parses), the interface is empty with the same columns. `name` is
    the interface; `violent_deaths` and `crime_counts` derive some columns (a record id, the
    ICD-10 code normalised, the month), the others take their columns as mapped.

    A source that needs SQL to reach the interface (a key made of two columns, a code turned
    into the interface's words, a wide row unpivoted) has one staging model instead, which
    produces the interface's columns, `source_system` and `source_contract` included: `staged`
    lists them (`ref()`s). Their columns are selected by name and not cast, so the interface
    model's enforced contract is what checks them: a missing column or another type fails
    the build, naming the column. -#}
{% macro interface_union(name, added=[], staged=[]) -%}
{#- The columns and types are the calling model's contract (`_interfaces__models.yml`), but
    those the model itself `added` after the union. -#}
{%- set columns = [] -%}
{%- for column in model.columns.values() if column.name not in added -%}
    {%- do columns.append((column.name, column.data_type)) -%}
{%- endfor -%}
{%- set parts = [] -%}
{%- if execute -%}
    {%- for node in graph.sources.values() | sort(attribute='unique_id') -%}
        {%- set meta = node.config.get('meta', {}) or node.meta -%}
        {%- set mapping = (meta.get('interface') or {}).get(name) -%}
        {%- if mapping -%}
            {%- do parts.append({'node': node, 'mapping': mapping}) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif -%}
{%- if not parts and not staged %}
    select
    {%- for column, type in columns %}
        cast(null as {{ type }}) as {{ column }}{% if not loop.last %},{% endif %}
    {%- endfor %}
    where false
{%- else -%}
{%- for part in parts %}
    {{ interface_part(name, columns, part.node, part.mapping) }}
    {% if not loop.last or staged %}union all{% endif %}
{%- endfor -%}
{%- for relation in staged %}
    select
    {%- for column, type in columns %}
        {{ column }}{% if not loop.last %},{% endif %}
    {%- endfor %}
    from {{ relation }}
    {% if not loop.last %}union all{% endif %}
{%- endfor -%}
{%- endif -%}
{%- endmacro %}


{#- One source's rows in the interface's shape (see `interface_union`). -#}
{% macro interface_part(name, columns, node, mapping) -%}
{%- set mapped = mapping.get('columns') or {} -%}
{%- set constants = mapping.get('constants') or {} -%}
{%- set contract = node.name -%}
{%- set ordering = [] -%}
{%- for named in mapped.values() -%}
    {%- if named is string -%}{%- do ordering.append(named) -%}
    {%- else -%}{%- do ordering.extend(named) -%}{%- endif -%}
{%- endfor -%}
{%- set values = {} -%}
{#- The interface's columns, and what derived ones are made of (a date, a year and month). -#}
{%- set names = columns | map('first') | list + ['date', 'year', 'month'] -%}
{%- for column in names -%}
    {%- if column in mapped and mapped[column] is string -%}
        {%- do values.update({column: adapter.quote(mapped[column])}) -%}
    {%- elif column in mapped -%}
        {#- A code published in parts: the parts joined, null when one is missing. -#}
        {%- set parts = [] -%}
        {%- for part in mapped[column] -%}{%- do parts.append(adapter.quote(part)) -%}{%- endfor -%}
        {%- do values.update({column: '(' ~ parts | join(' || ') ~ ')'}) -%}
    {%- elif column in constants and constants[column] is not none -%}
        {%- do values.update({column: "'" ~ (constants[column] | replace("'", "''")) ~ "'"}) -%}
    {%- else -%}
        {%- do values.update({column: 'null'}) -%}
    {%- endif -%}
{%- endfor -%}
{#- Without a record id, the row is its own record: file, row (and its part of an unpivoted
    row); the key is with `source_contract`. -#}
{%- set row_id = "left(_file_sha256, 16) || ':' || _source_row || '.' || part_row" -%}
{%- if name == 'violent_deaths' -%}
    {#- A source that publishes the month of death only: dated the 1st, and says so. -#}
    {%- set has_day = values['death_date'] != 'null' -%}
    {%- do values.update({
        'record_id': values.record_id if values.record_id != 'null' else row_id,
        'death_date': values['death_date'] if has_day
            else "make_date(cast(" ~ values['year'] ~ " as integer), cast("
                ~ values['month'] ~ " as integer), 1)",
        'death_date_precision': "'day'" if has_day else "'month'",
        'icd10_code_reported': values.icd10_code,
        'icd10_code': normalise_icd10(values.icd10_code),
    }) -%}
{%- elif name == 'crime_counts' -%}
    {%- set month_start = "cast(date_trunc('month', " ~ values['date'] ~ ") as date)"
        if values['date'] != 'null'
        else "make_date(cast(" ~ values['year'] ~ " as integer), cast("
            ~ values['month'] ~ " as integer), 1)" -%}
    {%- do values.update({
        'record_id': row_id,
        'month_start': month_start,
        'period': values.period if values.period != 'null' else "'month'",
        'correspondence': "'" ~ mapping.correspondence ~ "'",
    }) -%}
{%- endif -%}
{%- do values.update({
    'source_system': "'" ~ mapping.source_system ~ "'",
    'source_contract': "'" ~ contract ~ "'",
    'batch_id': '_batch_id', 'source_file': '_source_file', 'source_row': '_source_row',
    'file_sha256': '_file_sha256', 'source_query': '_source_query', 'ingested_at': '_ingested_at',
}) -%}
    select
    {%- for column, type in columns %}
        cast({{ values[column] }} as {{ type }}) as {{ column }}{% if not loop.last %},{% endif %}
    {%- endfor %}
    from (
        select
            *,
            {%- if mapping.latest_by %}
            row_number() over (
                partition by {{ adapter.quote(mapped.record_id) }}
                order by
                {%- for column in mapping.latest_by %} {{ adapter.quote(column) }} desc,{% endfor %}
                    _ingested_at desc, _batch_id desc, _source_row desc
            ) as version_rank,
            {%- else %}
            1 as version_rank,
            {%- endif %}
            -- A wide row unpivoted gives several rows of one source row: numbered apart.
            row_number() over (
                partition by _batch_id, _source_row
                order by {% for column in ordering | sort %}{{ adapter.quote(column) }}, {% endfor %}_ingested_at
            ) as part_row
        from {{ source(node.source_name, node.name) }}
    ) as {{ contract }}
    where
        version_rank = 1
        {%- if name == 'crime_counts' %}
        -- An empty cell is a count not published (a month to come), not a zero.
        and {{ values['count'] }} is not null
        {%- endif %}
{%- endmacro %}


{#- The label and contract columns of a staging model that feeds an interface (`staged` in
    `interface_union`): `source_system`, the label indicators publish as `source`, and
    `source_contract`, the raw table (`relation`, the model's `source()`) its rows come from. -#}
{% macro interface_source_columns(source_system, relation) -%}
    '{{ source_system }}' as source_system,
        '{{ relation.identifier }}' as source_contract
{%- endmacro %}
