{#- Case status history (SCD2): each version of a prosecution case's status and decision
    as the warehouse came to know it, valid from the source's `updated_at`. "Status as known
    on date X": `dbt_valid_from <= X and (dbt_valid_to > X or dbt_valid_to is null)`. -#}
{% snapshot snap_justice__cases %}

{{
    config(
        schema='snapshots',
        unique_key='case_id',
        strategy='timestamp',
        updated_at='updated_at',
    )
}}

select
    case_id,
    case_status,
    prosecutor_decision,
    decision_date,
    court_case_id,
    court_filed_date,
    updated_at,
    batch_id

from {{ ref('int_justice_cases_deduplicated') }}

{% endsnapshot %}
