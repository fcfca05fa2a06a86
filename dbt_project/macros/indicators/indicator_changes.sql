{#- What an incremental build of the indicator tables recomputes (model int_indicator_changes,
    read by fct_indicator_contributions, mart_indicators_monthly and
    mart_indicators_monthly_areas). Everything is derived from `indicator_definitions()`.

    A plain fact interface (`_facts.yml`: a `key` and a `month_of`: the police reports,
    detentions, complaints, use of force) puts each row in a cell by its own columns and keeps
    its key across versions, so its contribution rows change only with its rows: a unit (the
    id a row is counted by, `counted_id`) with a row, or a version (`versions`), in a batch the
    contributions do not hold yet is recomputed, wherever its rows were and are now (a
    correction moves a row from one cell to another), and so are the cells both sides. A
    derived interface may name which of its rows change only with a unit of a plain one
    (`units_of`: the justice funnel's police reports); its other rows are recomputed on every
    build, as are the rows of every other interface (the victim register, rebuilt by linkage
    each run; a survey year spread over its months; the death and count interfaces of several
    sources, deduplicated across them) and the reporting gaps and coverage (a window of
    months). In the indicator marts, an indicator with such rows is recomputed whole. -#}

{#- Whether an interface is a plain fact, recomputed by unit (see above). -#}
{% macro indicator_interface_by_unit(interface) -%}
    {{ return(interface.key is not none and interface.month_of is not none
        and interface.year_of is none) }}
{%- endmacro %}


{#- The indicators recomputed by unit, by interface: {interface name: [indicator codes]}.
    `partial`: those whose parts are all over interfaces with `units_of` (their rows of that
    fact model by unit, the others whole); else those whose parts are all plain facts. -#}
{% macro indicator_unit_interfaces(partial=false) -%}
{%- set definitions = indicator_definitions() -%}
{%- set found = {} -%}
{%- for indicator in definitions.indicators -%}
    {%- set parts = indicator_row_parts(indicator) -%}
    {%- set facts = parts | map(attribute='fact') | unique | list -%}
    {%- set kinds = [] -%}
    {%- for fact in facts -%}
        {%- set interface = definitions.interfaces[fact] -%}
        {%- do kinds.append('partial' if interface.units_of
            else ('unit' if indicator_interface_by_unit(interface) else 'whole')) -%}
    {%- endfor -%}
    {%- if kinds and kinds | unique | list == ['partial' if partial else 'unit'] -%}
        {%- if indicator.by_source -%}
            {{ exceptions.raise_compiler_error('indicator ' ~ indicator.code
                ~ ' is labelled by source: it cannot be recomputed by unit') }}
        {%- endif -%}
        {%- for fact in facts -%}
            {%- if fact not in found %}{% do found.update({fact: []}) %}{% endif -%}
            {%- do found[fact].append(indicator.code) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endfor -%}
{{ return(found) }}
{%- endmacro %}


{#- The indicators over one plain fact and whole interfaces besides (the police ÷ forensic
    homicide ratio: police reports over forensic deaths), by that plain interface:
    {interface name: [indicator codes]}. The contributions recompute their rows of the plain
    fact by unit and their other rows whole (the pre-hook tells them apart by `fact_model`);
    the indicator marts recompute them whole. Recomputed whole, the ratio's 729,442 police rows
    were deleted and inserted again by every build at 10M police rows. Not those labelled by
    source, nor those over an interface with `units_of`. -#}
{% macro indicator_mixed_interfaces() -%}
{%- set definitions = indicator_definitions() -%}
{%- set found = {} -%}
{%- for indicator in definitions.indicators if not indicator.by_source -%}
    {%- set plain = [] -%}
    {%- set others = [] -%}
    {%- for fact in indicator_row_parts(indicator) | map(attribute='fact') | unique -%}
        {%- set interface = definitions.interfaces[fact] -%}
        {%- if interface.units_of -%}
            {%- do others.append(none) -%}
        {%- elif indicator_interface_by_unit(interface) -%}
            {%- do plain.append(fact) -%}
        {%- else -%}
            {%- do others.append(interface.model) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if plain | length == 1 and others and none not in others
        and definitions.interfaces[plain[0]].model not in others -%}
        {%- if plain[0] not in found %}{% do found.update({plain[0]: []}) %}{% endif -%}
        {%- do found[plain[0]].append(indicator.code) -%}
    {%- endif -%}
{%- endfor -%}
{{ return(found) }}
{%- endmacro %}


{#- The plain interfaces whose changed units int_indicator_changes lists: those of the
    indicators recomputed by unit (wholly or in part) and those other interfaces take their
    units of. -#}
{% macro indicator_changed_interfaces() -%}
{%- set definitions = indicator_definitions() -%}
{%- set names = indicator_unit_interfaces().keys() | list -%}
{%- for name in indicator_mixed_interfaces() -%}
    {%- if name not in names %}{% do names.append(name) %}{% endif -%}
{%- endfor -%}
{%- for name in indicator_unit_interfaces(partial=true) -%}
    {%- set plain = definitions.interfaces[name].units_of.interface -%}
    {%- if plain not in names %}{% do names.append(plain) %}{% endif -%}
{%- endfor -%}
{{ return(names | sort) }}
{%- endmacro %}


{#- The indicators recomputed whole on every build, as a SQL list (`''` when none, so that
    `not in` holds): in the contributions (`cells=false`) those not recomputed by unit at all;
    in the marts also those with rows recomputed on every build (any of their cells may
    change). -#}
{% macro indicator_rebuilt_list(cells=true) -%}
    {%- set definitions = indicator_definitions() -%}
    {%- set by_unit = [] -%}
    {%- for groups in [indicator_unit_interfaces()]
        + ([] if cells else [indicator_unit_interfaces(partial=true), indicator_mixed_interfaces()]) -%}
        {%- for codes in groups.values() %}{% do by_unit.extend(codes) %}{% endfor -%}
    {%- endfor -%}
    {%- set codes = definitions.indicators | map(attribute='code')
        | reject('in', by_unit) | list -%}
    {%- if codes -%}
        {%- for code in codes %}'{{ code }}'{% if not loop.last %}, {% endif %}{% endfor -%}
    {%- else -%}
        ''
    {%- endif -%}
{%- endmacro %}


{#- The condition on an interface's rows (`alias`: its table or CTE) that its contribution
    rows change in this build: its changed units, or for an interface with `units_of` its
    rows of another fact model and its rows of the changed units of the plain one. Those
    units as constants (macro changed_records_filter), which PostgreSQL looks up in an index
    where there is one (the pre-hook's delete combines the contributions' indexes on the
    indicator and the unit: 12.8 s for the whole pre-hook at 10M police rows and 1 % new
    ones, 14.1 s with a semi-join to int_indicator_changes) and hashes where there is not.
    An interface with `units_of` is a view over every unit (the justice funnel: every police
    report), which a semi-join filtered only after building every unit (10.5 s of the
    contributions' 15 s for 1 % new rows at 1M rows). -#}
{% macro indicator_changed_rows(name, interface, alias) -%}
    {%- set changes = ref('int_indicator_changes') -%}
    {%- if interface.units_of -%}
        ({{ alias }}.fact_model != '{{ interface.units_of.fact_model }}'
        or {{ changed_records_filter('counted_id', changes,
            "staged.interface = '" ~ interface.units_of.interface ~ "'",
            column='cast(' ~ alias ~ '.counted_id as text)') }})
    {%- else -%}
        {{ changed_records_filter('counted_id', changes, "staged.interface = '" ~ name ~ "'",
            column='cast(' ~ alias ~ '.' ~ (interface.counted_by or interface.key) ~ ' as text)') }}
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
    the indicators recomputed whole and the changed rows of the others (as their interface
    says; of an indicator over a plain fact and whole interfaces, its rows of the other fact
    models and its changed units' rows), and any row outside the spine's period (it shrinks
    when the first or last month's reports are corrected away). The model's select then
    inserts their rows as they are now. -#}
{% macro indicator_contributions_replaced() -%}
    {%- if is_incremental() %}
    {%- set definitions = indicator_definitions() %}
    delete from {{ this }}
    where indicator_code in ({{ indicator_rebuilt_list(cells=false) }});
    {#- Per interface, its indicators' rows as `built` holds them: a plain fact's by unit; a
        derived one's as its `units_of` says; an indicator over a plain fact and whole
        interfaces as if it took its units of that fact. -#}
    {%- set replaced = [] %}
    {%- for name, codes in indicator_unit_interfaces().items() %}
        {%- do replaced.append((name, codes, {'counted_by': 'counted_id'})) %}
    {%- endfor %}
    {%- for name, codes in indicator_unit_interfaces(partial=true).items() %}
        {%- do replaced.append((name, codes, definitions.interfaces[name])) %}
    {%- endfor %}
    {%- for name, codes in indicator_mixed_interfaces().items() %}
        {%- do replaced.append((name, codes, {'units_of': {'interface': name,
            'fact_model': definitions.interfaces[name].model}})) %}
    {%- endfor %}
    {%- for name, codes, interface in replaced %}
    delete from {{ this }} as built
    where
        built.indicator_code in ({{ sql_literals(codes) }})
        and {{ indicator_changed_rows(name, interface, 'built') }};
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
