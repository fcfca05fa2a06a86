-- Homicide victims counted once across police, prosecution, forensic and hospital records
-- (observatorio.linkage.register), per municipality and month of the event.
-- Definitions: seeds/ref_indicators.csv.
with

spine as (

    select * from {{ ref('int_indicator_spine') }}

),

reconciliation as (

    select * from {{ ref('mart_homicide_reconciliation') }}

),

cells as (

    select
        spine.municipality_code,
        spine.month,
        spine.population,
        coalesce(reconciliation.reconciled_homicides, 0) as reconciled_homicides,
        coalesce(reconciliation.confirmed_homicides, 0) as confirmed_homicides

    from spine
    left join reconciliation
        on
            spine.municipality_code = reconciliation.municipality_code
            and spine.month = reconciliation.month

),

final as (

    {{ indicator_rows('cells', [
        ('homicide_reconciled', 'reconciled_homicides', none, 'count'),
        ('homicide_rate_reconciled', 'reconciled_homicides', 'population', 'per_100k'),
        ('homicide_confirmed_by_two_sources', 'confirmed_homicides', none, 'count'),
    ], 'reconciled') }}

)

select * from final
