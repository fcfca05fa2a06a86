{#- dbt's `grants` config grants privileges on the relations it builds, never USAGE on their
    schema, without which a role cannot reach them. Run from `on-run-end` in
    dbt_project.yml for the BI role on `marts`; idempotent. The role itself is created,
    only if missing, by the warehouse bootstrap (observatorio/sql/bootstrap.sql). -#}
{% macro grant_schema_usage(schema_name, role_name) -%}
    {{ return(adapter.dispatch('grant_schema_usage')(schema_name, role_name)) }}
{%- endmacro %}

{% macro postgres__grant_schema_usage(schema_name, role_name) -%}
grant usage on schema {{ adapter.quote(schema_name) }} to {{ adapter.quote(role_name) }}
{%- endmacro %}
