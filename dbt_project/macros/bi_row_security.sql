{#- Row-level security of a `bi` table, run as its post-hook on every build (dbt_project.yml),
    so a rebuilt table is never readable without its policies: the swap and this hook commit
    together. FORCE makes the policies bind the table's owner (the transformer) as well.
    `meta.row_scope` of the model says which rows a BI login sees:
      department      (default) rows whose `department_code` is the login's department, and
                      every row for a national login; rows without a department are national;
      all_recipients  every row, for any declared login (reference tables such as indicators).
    The logins and their departments are in bi_access.recipient_scopes, written by the
    warehouse bootstrap from bi/logins.yaml (observatorio.core.recipients). -#}
{% macro bi_row_security(relation) -%}
    {#- Hooks are rendered once at parse time too, before the model's config is known. -#}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set row_scope = (model.config.get('meta') or {}).get('row_scope', 'department') -%}
    {{ return(adapter.dispatch('bi_row_security')(relation, row_scope)) }}
{%- endmacro %}

{% macro postgres__bi_row_security(relation, row_scope) -%}
    {%- if row_scope == 'department' -%}
        {%- set visible = 'bi_access.can_see_department(department_code)' -%}
    {%- elif row_scope == 'all_recipients' -%}
        {%- set visible = 'bi_access.is_recipient()' -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "row_scope of " ~ relation ~ " must be department or all_recipients, not " ~ row_scope
        ) }}
    {%- endif -%}
alter table {{ relation }} enable row level security;
alter table {{ relation }} force row level security;
drop policy if exists pipeline_reads on {{ relation }};
drop policy if exists recipient_rows on {{ relation }};
create policy pipeline_reads on {{ relation }} for select
    to {{ adapter.quote(var('transformer_role')) }} using (true);
create policy recipient_rows on {{ relation }} for select
    to {{ adapter.quote(var('bi_role')) }} using ({{ visible }})
{%- endmacro %}
