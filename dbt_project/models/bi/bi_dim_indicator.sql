-- The indicators BI charts name: one row per indicator code, in Spanish and English, with
-- its unit and definition (seeds/ref_indicators.csv), and its publication rules as the
-- active country profile gives them (the smallest count shown, the decimals a value is
-- rounded to, the numerator below which a rate is unstable): `_publication.yml`, the
-- profile's `publication:` over it, an indicator's own definition over both (macro
-- resolve_publication), from the one list of definitions.
with

{{ indicator_list() }}

seeded as (

    select * from {{ ref('ref_indicators') }}

),

final as (

    select
        seeded.indicator_code,
        seeded.name_es as indicator_name_es,
        seeded.name_en as indicator_name_en,
        seeded.unit,
        seeded.source,
        seeded.numerator as numerator_definition,
        seeded.denominator as denominator_definition,
        seeded.formula,
        indicators.min_cell_size,
        indicators.decimals,
        case
            when indicators.has_poisson_interval then indicators.min_stable_numerator
        end as min_stable_numerator

    from seeded
    inner join indicators
        on seeded.indicator_code = indicators.indicator_code

)

select * from final
