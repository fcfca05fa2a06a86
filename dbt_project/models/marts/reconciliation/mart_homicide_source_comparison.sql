-- Police homicide victims against health homicide deaths, per municipality and month, for
-- each pair of a police source and a health source that recorded homicides, and how they
-- were compared: `linked records` where the victim register links both sides record by
-- record (police reports and forensic deaths, observatorio.linkage), `counts` where one side
-- is aggregated or its records are not linked (published counts such as SIEDCO's, a death
-- registry without names such as DANE's EEVV): then only the numbers are set side by side.
with

indicators as (

    select * from {{ ref('mart_indicators_monthly') }}

),

reconciliation as (

    select * from {{ ref('mart_homicide_reconciliation') }}

),

-- Each side's homicide count, as published (each defined once, dbt_project/indicators/),
-- and the source label whose records the victim register links (null: it links none).
sides as (

    select * from (
        values
        ('police', 'homicide_count_police', 'police'),
        ('police', 'homicide_victims_counted', null),
        ('health', 'homicide_count_health', 'health')
    ) as listed (side, indicator_code, linked_source)

),

counts as (

    select
        sides.side,
        indicators.source,
        coalesce(indicators.source = sides.linked_source, false) as is_linked,
        indicators.municipality_code,
        indicators.month,
        indicators.numerator

    from indicators
    inner join sides
        on indicators.indicator_code = sides.indicator_code
    where indicators.sex = 'all' and indicators.age_group = 'all'

),

-- The sources that recorded a homicide: the police record indicator has a row of zeros in
-- every cell even where a country has no police records, and that is nothing to compare.
recording as (

    select
        side,
        source

    from counts
    group by side, source
    having sum(numerator) > 0

),

recorded as (

    select counts.*

    from counts
    inner join recording
        on counts.side = recording.side and counts.source = recording.source

),

pairs as (

    select
        police.month,
        police.municipality_code,
        police.source as police_source,
        health.source as health_source,
        police.is_linked and health.is_linked as is_linked,
        police.numerator as police_homicide_victims,
        health.numerator as health_homicide_deaths

    from recorded as police
    inner join recorded as health
        on
            police.month = health.month
            and police.municipality_code = health.municipality_code
            and health.side = 'health'
    where police.side = 'police'

),

final as (

    select
        pairs.month
        || '|' || pairs.municipality_code
        || '|' || pairs.police_source
        || '|' || pairs.health_source as comparison_id,
        pairs.month,
        pairs.municipality_code,
        pairs.police_source,
        pairs.health_source,
        case when pairs.is_linked then 'linked records' else 'counts' end as method,
        cast(pairs.police_homicide_victims as bigint) as police_homicide_victims,
        cast(pairs.health_homicide_deaths as bigint) as health_homicide_deaths,
        cast(pairs.police_homicide_victims - pairs.health_homicide_deaths as bigint)
            as police_minus_health,
        -- Null until the register has linked the cell's records (and never for counts).
        case when pairs.is_linked then reconciliation.reconciled_homicides end
            as reconciled_homicides

    from pairs
    left join reconciliation
        on
            pairs.month = reconciliation.month
            and pairs.municipality_code = reconciliation.municipality_code
    where pairs.police_homicide_victims > 0 or pairs.health_homicide_deaths > 0

)

select * from final
