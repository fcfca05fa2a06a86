{#- `crime_reports_as_of(as_of timestamp)`: each police report victim classified as it was
    known at that instant (a date means its first moment): the version recorded last at or
    before it. Reports first recorded later are absent. Created by the post-hook of
    fct_crime_report_versions, next to it; like explain_indicator it returns an explicit
    column list and names the table only in its body, so dbt can swap the table on every
    build without dropping the function. -#}
{% macro create_crime_reports_as_of_function() -%}
    {{ return(adapter.dispatch('create_crime_reports_as_of_function')()) }}
{%- endmacro %}

{% macro postgres__create_crime_reports_as_of_function() -%}
create or replace function {{ this.schema }}.crime_reports_as_of(p_as_of timestamp)
returns table (
    report_victim_id text,
    report_id text,
    victim_seq integer,
    version_number bigint,
    valid_from timestamp,
    valid_to timestamp,
    incident_date date,
    municipality_code text,
    national_offence_code text,
    iccs_code text,
    iccs_level_1_code text,
    iccs_level_2_code text,
    iccs_level_3_code text,
    iccs_level_4_code text,
    is_classified boolean,
    is_intentional_homicide boolean,
    is_femicide boolean,
    is_intrafamily boolean,
    batch_id text
)
language sql
stable
as $as_of$
    select
        versions.report_victim_id,
        versions.report_id,
        versions.victim_seq,
        versions.version_number,
        versions.valid_from,
        versions.valid_to,
        versions.incident_date,
        versions.municipality_code,
        versions.national_offence_code,
        versions.iccs_code,
        versions.iccs_level_1_code,
        versions.iccs_level_2_code,
        versions.iccs_level_3_code,
        versions.iccs_level_4_code,
        versions.is_classified,
        versions.is_intentional_homicide,
        versions.is_femicide,
        versions.is_intrafamily,
        versions.batch_id
    from {{ this }} as versions
    where
        versions.valid_from <= p_as_of
        and (versions.valid_to > p_as_of or versions.valid_to is null)
    order by versions.report_victim_id
$as_of$;
comment on function {{ this.schema }}.crime_reports_as_of(timestamp) is
    'Each police report victim classified as known at the given instant (the version '
    'recorded last at or before it), from fct_crime_report_versions. Rebuilt by dbt.'
{%- endmacro %}

{#- `prosecution_cases_as_of(as_of timestamp)`: each prosecution case with the status and
    decision it had at that instant (the version written last at or before it), from
    fct_prosecution_case_versions, whose post-hook creates it. Cases opened later are absent. -#}
{% macro create_prosecution_cases_as_of_function() -%}
    {{ return(adapter.dispatch('create_prosecution_cases_as_of_function')()) }}
{%- endmacro %}

{% macro postgres__create_prosecution_cases_as_of_function() -%}
create or replace function {{ this.schema }}.prosecution_cases_as_of(p_as_of timestamp)
returns table (
    case_id text,
    version_number integer,
    valid_from timestamp,
    valid_to timestamp,
    case_status text,
    prosecutor_decision text,
    decision_date date,
    court_case_id text,
    batch_id text
)
language sql
stable
as $as_of$
    select
        versions.case_id,
        versions.version_number,
        versions.valid_from,
        versions.valid_to,
        versions.case_status,
        versions.prosecutor_decision,
        versions.decision_date,
        versions.court_case_id,
        versions.batch_id
    from {{ this }} as versions
    where
        versions.valid_from <= p_as_of
        and (versions.valid_to > p_as_of or versions.valid_to is null)
    order by versions.case_id
$as_of$;
comment on function {{ this.schema }}.prosecution_cases_as_of(timestamp) is
    'Each prosecution case with its status and decision as known at the given instant (the '
    'version written last at or before it), from fct_prosecution_case_versions. Rebuilt by dbt.'
{%- endmacro %}
