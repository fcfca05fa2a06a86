{#- What an incremental build of the indicator tables recomputes (model int_indicator_changes,
    read by fct_indicator_contributions, mart_indicators_monthly and
    mart_indicators_monthly_areas). Everything is derived from `indicator_definitions()`.

    A fact interface with a `key` and a `month_of` (a plain fact: the police reports,
    detentions, complaints, use of force) puts each row in a cell by its own columns and keeps
    its key across versions, so its contribution rows change only with its rows: a unit (the
    id a row is counted by, `counted_id`) whose rows are in a batch the contributions do not
    hold yet is recomputed, wherever its rows were and are now (a correction moves a row from
    one cell to another), and so are the cells both sides. Every other interface is derived
    from more than its own rows (the victim register, rebuilt by linkage each run; the justice
    funnel, whose cohort flag follows later judgements; a survey year spread over its months;
    the death and count interfaces of several sources, deduplicated across them) and so are
    the reporting gaps and coverage (a window of months): their indicators are recomputed whole
    on every build (`indicator_rebuilt_codes`). -#}

{#- Whether an interface's contribution rows are recomputed by unit (see above). -#}
{% macro indicator_interface_by_unit(interface) -%}
    {{ return(interface.key is not none and interface.month_of is not none
        and interface.year_of is none) }}
{%- endmacro %}


{#- For each interface recomputed by unit, the indicators with rows from it:
    {interface name: [indicator codes]}; only indicators every part of which is such. -#}
{% macro indicator_unit_interfaces() -%}
{%- set definitions = indicator_definitions() -%}
{%- set rebuilt = indicator_rebuilt_codes() -%}
{%- set found = {} -%}
{%- for indicator in definitions.indicators if indicator.code not in rebuilt -%}
    {%- for part in indicator_row_parts(indicator) -%}
        {%- if part.fact not in found %}{% do found.update({part.fact: []}) %}{% endif -%}
        {%- if indicator.code not in found[part.fact] -%}
            {%- do found[part.fact].append(indicator.code) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endfor -%}
{{ return(found) }}
{%- endmacro %}


{#- The indicators recomputed whole on every build: those with a part over an interface that
    is not recomputed by unit, or without parts (reporting gaps and coverage). An indicator
    labelled by its rows' source (`by_source`) must be one of them: its cells exist for every
    source its rows carry anywhere. -#}
{% macro indicator_rebuilt_codes() -%}
{%- set definitions = indicator_definitions() -%}
{%- set codes = [] -%}
{%- set by_unit = indicator_by_unit_names() -%}
{%- for indicator in definitions.indicators -%}
    {%- set parts = indicator_row_parts(indicator) -%}
    {%- if not parts or parts | rejectattr('fact', 'in', by_unit) | list -%}
        {%- do codes.append(indicator.code) -%}
    {%- elif indicator.by_source -%}
        {{ exceptions.raise_compiler_error(
            'indicator ' ~ indicator.code ~ ' is labelled by source but recomputed by unit') }}
    {%- endif -%}
{%- endfor -%}
{{ return(codes) }}
{%- endmacro %}


{#- The names of the interfaces recomputed by unit. -#}
{% macro indicator_by_unit_names() -%}
{%- set definitions = indicator_definitions() -%}
{%- set names = [] -%}
{%- for name, interface in definitions.interfaces.items()
    if indicator_interface_by_unit(interface) -%}
    {%- do names.append(name) -%}
{%- endfor -%}
{{ return(names) }}
{%- endmacro %}


{#- A SQL list of the indicators recomputed whole (`''` when none, so `not in` holds). -#}
{% macro indicator_rebuilt_list() -%}
    {%- set codes = indicator_rebuilt_codes() -%}
    {%- if codes -%}
        {%- for code in codes %}'{{ code }}'{% if not loop.last %}, {% endif %}{% endfor -%}
    {%- else -%}
        ''
    {%- endif -%}
{%- endmacro %}


{#- The contributions table as it stands before this build (read by int_indicator_changes,
    which runs before it: a `ref` would be a cycle), or none before the first build. -#}
{% macro indicator_contributions_relation() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.fct_indicator_contributions') -%}
    {%- if node is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(
        database=node.database, schema=node.schema, identifier=node.alias)) }}
{%- endmacro %}


{#- The pre-hook of fct_indicator_contributions in an incremental build: delete the rows of
    the changed units and of the indicators recomputed whole, and any row outside the spine's
    period (it can shrink when the first or last month's reports are corrected away). The
    model's select then inserts their rows as they are now. -#}
{% macro indicator_contributions_replaced() -%}
    {%- if is_incremental() %}
    {%- set changes = ref('int_indicator_changes') %}
    delete from {{ this }}
    where indicator_code in ({{ indicator_rebuilt_list() }});
    {%- for name, codes in indicator_unit_interfaces().items() %}
    delete from {{ this }}
    where
        indicator_code in (
            {%- for code in codes %}'{{ code }}'{% if not loop.last %}, {% endif %}{% endfor -%}
        )
        and counted_id in (
            select changes.counted_id from {{ changes }} as changes
            where changes.interface = '{{ name }}'
        );
    {%- endfor %}
    {{ indicator_outside_spine_deleted() }}
    {%- endif %}
{%- endmacro %}


{#- The pre-hook of an indicator mart in an incremental build: delete the cells the build
    recomputes (`cell`: the columns naming a cell in `int_indicator_changes`, municipality and
    month or the month), the indicators recomputed whole, and months outside the spine. -#}
{% macro indicator_cells_replaced(cell) -%}
    {%- if is_incremental() %}
    delete from {{ this }}
    where
        indicator_code in ({{ indicator_rebuilt_list() }})
        or ({{ cell | join(', ') }}) in (
            select {{ cell | join(', ') }} from {{ ref('int_indicator_changes') }}
        );
    {{ indicator_outside_spine_deleted() }}
    {%- endif %}
{%- endmacro %}


{#- Rows of months the spine no longer covers (one statement; `this` has `month`). -#}
{% macro indicator_outside_spine_deleted() -%}
    delete from {{ this }}
    where
        month < (select min(spine.month) from {{ ref('int_indicator_spine') }} as spine)
        or month > (select max(spine.month) from {{ ref('int_indicator_spine') }} as spine);
{%- endmacro %}
