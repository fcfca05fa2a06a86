{#- Police report classification history (SCD2): each report victim's offence code and ICCS
    classification as the warehouse came to know it, valid from the version's `recorded_at`.
    A report re-sent reclassified (an assault becomes a homicide when the victim dies) opens
    a new row. The exact history, independent of when builds ran, is
    fct_crime_report_versions (from every raw version); this snapshot is what survives if
    raw is ever pruned.

    Once the snapshot exists, it reads only the report victims with a row from a batch it does
    not carry yet: the timestamp strategy opens a row only for a later `recorded_at`, which
    only a new batch brings, and a report victim left out of the query is left as it is. -#}
{% snapshot snap_police__reports %}
{#- Outside the condition below, so dbt sees the dependency when it parses. -#}
{%- set staged = ref('stg_interface__crime_events') -%}

{{
    config(
        schema='snapshots',
        unique_key='report_victim_id',
        strategy='timestamp',
        updated_at='recorded_at',
    )
}}

select
    report_victim_id,
    report_id,
    victim_seq,
    national_offence_code,
    nullif(iccs_code, '') as iccs_code,
    iccs_level_2_code,
    is_classified,
    is_intentional_homicide,
    is_femicide,
    municipality_code,
    recorded_at,
    batch_id

from {{ ref('int_crime_reports_classified') }}
{%- if execute and adapter.get_relation(this.database, this.schema, this.identifier) %}
where {{ changed_records_filter(
    'report_victim_id', staged, batches_not_in(this), within='report_id'
) }}
{%- endif %}

{% endsnapshot %}
