-- The indicators BI charts name: one row per indicator code, in Spanish and English, with
-- its unit and definition, and its publication rules (the smallest count shown, the decimals
-- a value is rounded to), from the one list of definitions (seeds/ref_indicators.csv).
with

indicators as (

    select * from {{ ref('ref_indicators') }}

),

final as (

    select
        indicator_code,
        name_es as indicator_name_es,
        name_en as indicator_name_en,
        unit,
        source,
        numerator as numerator_definition,
        denominator as denominator_definition,
        formula,
        min_cell_size,
        decimals

    from indicators

)

select * from final
