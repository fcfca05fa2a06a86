{#- Court judgement status history (SCD2): first instance, then final (`firme`), valid
    from the source's `updated_at`, so marts can tell whether a conviction was final as
    known on a given date. -#}
{% snapshot snap_justice__judgements %}

{{
    config(
        schema='snapshots',
        unique_key='judgement_id',
        strategy='timestamp',
        updated_at='updated_at',
    )
}}

select
    judgement_id,
    case_id,
    verdict,
    sentence_months,
    judgement_status,
    updated_at,
    batch_id

from {{ ref('int_justice_judgements_deduplicated') }}

{% endsnapshot %}
