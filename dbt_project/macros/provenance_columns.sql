{#- The provenance columns the loader adds to every raw row (`ingestion/provenance.py`, the
    one definition; a test holds this list to it), renamed for staging: `_batch_id` as
    `batch_id`, and so on, in raw's order.

    Used as the last columns of every staging model's `renamed` CTE. `source_query=true` for
    sources pulled by a query (justice, health), whose batches record it in `_source_query`. -#}
{% macro provenance_columns(source_query=false) -%}
    {%- set provenance = [
        '_batch_id',
        '_source_file',
        '_source_query',
        '_source_row',
        '_file_sha256',
        '_ingested_at',
    ] -%}
    {%- set renamed = [] -%}
    {%- for column in provenance if source_query or column != '_source_query' -%}
        {%- do renamed.append(column ~ ' as ' ~ column[1:]) -%}
    {%- endfor -%}
    {{ renamed | join(',\n        ') }}
{%- endmacro %}
