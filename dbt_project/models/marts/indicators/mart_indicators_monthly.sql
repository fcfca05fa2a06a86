-- The canonical indicator table: one row per indicator, municipality, month, sex and age
-- group, summed from the row-level contributions (`fct_indicator_contributions`), so every
-- published number is exactly what `observatorio explain` lists behind it. Indicators are
-- defined once, in dbt_project/indicators/*.yml (macro `indicator_cells`).
with

spine as (

    select * from {{ ref('int_indicator_spine') }}

),

contributions as (

    select * from {{ ref('fct_indicator_contributions') }}

),

{{ indicator_cells('spine', 'contributions') }}

final as (

    select
        indicator_code,
        municipality_code,
        month,
        'all' as sex,
        'all' as age_group,
        numerator,
        denominator,
        {{ indicator_value('kind', 'numerator', 'denominator', 'value_precision') }} as value,
        source

    from cells

)

select * from final
