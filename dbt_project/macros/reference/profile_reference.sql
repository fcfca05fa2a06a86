{#- The country profile's reference tables, as `observatorio.core.profile.reference_vars()`
    hands them to dbt in the environment variable OBSERVATORIO_REFERENCE (JSON). Unset, it is
    the demo's: every table from its seed, and no publication rules of its own (macro
    resolve_publication). Each table is `{"seed": name}` or `{"contract":
    name, "editions": [{"file": name, "valid_from": "YYYY-MM-DD" or null}, ...]}`. -#}
{% macro profile_reference() -%}
    {%- set defaults = {
        "profile": "demo",
        "country_code": "",
        "country_name": "",
        "levels": ["country", "department", "municipality"],
        "geography": {"seed": "ref_municipalities"},
        "aliases": {"seed": "ref_municipality_aliases"},
        "population": {"seed": "ref_population"},
        "offence_codes": {"seed": "ref_national_offences"},
        "icd10_groups": {"seed": "ref_icd10_external_cause_groups"},
        "publication": {},
    } -%}
    {%- set given = fromjson(env_var('OBSERVATORIO_REFERENCE', '{}')) -%}
    {%- do defaults.update(given) -%}
    {{ return(defaults) }}
{%- endmacro %}

{#- The relation a reference table is read from: its seed, or the raw table its contract
    loads (a source of `profile_reference`, _reference__sources.yml). -#}
{% macro reference_relation(table) -%}
    {%- set spec = profile_reference()[table] -%}
    {%- if spec.get("seed") -%}
        {{ return(ref(spec["seed"])) }}
    {%- else -%}
        {{ return(source('profile_reference', spec["contract"])) }}
    {%- endif -%}
{%- endmacro %}

{% macro reference_is_seed(table) -%}
    {{ return(profile_reference()[table].get("seed") is not none) }}
{%- endmacro %}

{#- The editions of a loaded reference table as SQL rows (edition_rank, file_name,
    valid_from); a seed is one edition valid since always. -#}
{% macro reference_editions(table) -%}
    {%- set spec = profile_reference()[table] -%}
    {%- set editions = spec.get("editions") or [{"file": none, "valid_from": none}] -%}
    select * from (
        values
        {%- for edition in editions %}
            (
                {{ loop.index }},
                {{ "cast(null as text)" if edition["file"] is none else "'" ~ edition["file"] | replace("'", "''") ~ "'" }},
                {{ "cast(null as date)" if edition["valid_from"] is none else "date '" ~ edition["valid_from"] ~ "'" }}
            ){{ "," if not loop.last }}
        {%- endfor %}
    ) as editions (edition_rank, file_name, valid_from)
{%- endmacro %}

{#- The rows of a loaded reference table from the latest batch of each file (a file sent
    again with corrections replaces its earlier rows), with the file's name. -#}
{% macro latest_reference_rows(relation) -%}
    select
        rows.*,
        regexp_replace(rows._source_file, '^.*/', '') as file_name
    from {{ relation }} as rows
    where rows._batch_id in (
        select distinct on (regexp_replace(_source_file, '^.*/', ''))
            _batch_id
        from {{ relation }}
        order by regexp_replace(_source_file, '^.*/', ''), _ingested_at desc
    )
{%- endmacro %}

{#- Every row of a reference table: the seed's, or the latest batch of each loaded file. -#}
{% macro reference_rows(table) -%}
    {%- if profile_reference()[table].get("empty") -%}
        select * from {{ reference_relation(table) }} where false
    {%- elif reference_is_seed(table) -%}
        select * from {{ reference_relation(table) }}
    {%- else -%}
        {{ latest_reference_rows(reference_relation(table)) }}
    {%- endif -%}
{%- endmacro %}
