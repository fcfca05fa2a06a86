-- A scheduled hearing is later marked held or suspended.
-- Raw holds every version pulled, and rows re-read in the overlap window of two pulls
-- arrive twice: keep one row per hearing, its latest version by `updated_at`.
with

hearings as (

    select * from {{ ref('stg_interface__court_hearings') }}

),

{{ latest_versions('hearings', 'hearing_id') }}

select * from final
