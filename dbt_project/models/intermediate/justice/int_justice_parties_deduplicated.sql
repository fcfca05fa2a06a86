-- A party's procedural status follows its case (indicted, convicted, acquitted).
-- Raw holds every version pulled, and rows re-read in the overlap window of two pulls
-- arrive twice: keep one row per party, its latest version by `updated_at`.
with

parties as (

    select * from {{ ref('stg_interface__justice_parties') }}

),

{{ latest_versions('parties', 'party_id') }}

select * from final
