-- Prosecution cases change status as they move from investigation to court.
-- Raw holds every version pulled, and rows re-read in the overlap window of two pulls
-- arrive twice: keep one row per case, its latest version by `updated_at`.
with

cases as (

    select * from {{ ref('stg_interface__justice_cases') }}

),

{{ latest_versions('cases', 'case_id') }}

select * from final
