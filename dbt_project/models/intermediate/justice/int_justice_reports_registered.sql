-- Every police report once, where it was filed and the day it was registered (its first
-- recorded version: corrections and reclassifications are re-sent later). The first stage
-- of the justice funnel, and what reporting coverage checks the police by.
--
-- A table, kept up to date by report: the funnel, its indicators, the attrition mart and the
-- tests read it several times per build, and each read of a view would aggregate every staged
-- report version again. An incremental build recomputes only the reports the new batches
-- touched (a report's first version and place can change only with a row of its own).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='report_id',
        indexes=[{'columns': ['report_id'], 'unique': True}],
    )
}}
{%- set changed = records_changed_since_last_build(
    'report_id', ref('stg_interface__crime_events')
) %}
with

reports as (

    select * from {{ ref('fct_crime_reports') }}

),

report_versions as (

    select * from {{ ref('stg_interface__crime_events') }}

),

registered as (

    select
        report_id,
        cast(min(recorded_at) as date) as registered_date

    from report_versions
    {% if changed %}where {{ changed }}{% endif %}
    group by report_id

),

-- The victims of one report share its place; min() keeps one if a version disagrees. The
-- first victim row (smallest key) stands for the report where a fact row must (lineage).
places as (

    select
        report_id,
        min(municipality_code) as municipality_code,
        min(report_victim_id) as first_report_victim_id

    from reports
    {% if changed %}where {{ changed }}{% endif %}
    group by report_id

),

final as (

    select
        places.report_id,
        places.municipality_code,
        registered.registered_date,
        places.first_report_victim_id

    from places
    inner join registered
        on places.report_id = registered.report_id

)

select * from final
