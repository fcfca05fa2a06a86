-- Indicators of police operations: detentions, complaints against the police and use of
-- force, per municipality and month. Definitions: seeds/ref_indicators.csv.
with

spine as (

    select * from {{ ref('int_indicator_spine') }}

),

detentions as (

    select
        municipality_code,
        to_char(detention_date, 'YYYY-MM') as month,
        count(distinct detention_id) as detentions

    from {{ ref('fct_detentions') }}
    group by 1, 2

),

complaints as (

    select
        municipality_code,
        to_char(registered_date, 'YYYY-MM') as month,
        count(distinct complaint_id) as complaints

    from {{ ref('fct_police_complaints') }}
    group by 1, 2

),

use_of_force as (

    select
        municipality_code,
        to_char(incident_date, 'YYYY-MM') as month,
        count(distinct incident_id) as incidents,
        coalesce(sum(persons_killed), 0) as persons_killed

    from {{ ref('fct_use_of_force') }}
    group by 1, 2

),

cells as (

    select
        spine.municipality_code,
        spine.month,
        spine.population,
        coalesce(detentions.detentions, 0) as detentions,
        coalesce(complaints.complaints, 0) as complaints,
        coalesce(use_of_force.incidents, 0) as use_of_force_incidents,
        coalesce(use_of_force.persons_killed, 0) as persons_killed_by_police

    from spine
    left join detentions
        on spine.municipality_code = detentions.municipality_code and spine.month = detentions.month
    left join complaints
        on spine.municipality_code = complaints.municipality_code and spine.month = complaints.month
    left join use_of_force
        on
            spine.municipality_code = use_of_force.municipality_code
            and spine.month = use_of_force.month

),

final as (

    {{ indicator_rows('cells', [
        ('detentions_count', 'detentions', none, 'count'),
        ('detentions_rate', 'detentions', 'population', 'per_100k'),
        ('police_complaints_count', 'complaints', none, 'count'),
        ('use_of_force_incidents', 'use_of_force_incidents', none, 'count'),
        ('persons_killed_by_police', 'persons_killed_by_police', none, 'count'),
    ], 'police') }}

)

select * from final
