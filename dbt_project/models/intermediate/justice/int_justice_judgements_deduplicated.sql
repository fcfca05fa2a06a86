-- A first-instance judgement becomes final (`firme`) months later.
-- Raw holds every version pulled, and rows re-read in the overlap window of two pulls
-- arrive twice: keep one row per judgement, its latest version by `updated_at`.
with

judgements as (

    select * from {{ ref('stg_interface__court_judgements') }}

),

{{ latest_versions(
    'judgements',
    'judgement_id',
    aggregates={'became_final_at': "min(updated_at) filter (where judgement_status = 'firme')"}
) }}

select * from final
