-- Police-reported victims per municipality, month and ICCS division: the shape ministries
-- receive and BI charts, built from the fact so the two always agree.
with

reports as (

    select * from {{ ref('fct_crime_reports') }}

),

municipalities as (

    select * from {{ ref('int_municipalities') }}

),

iccs as (

    select * from {{ ref('ref_iccs_categories') }}

),

monthly as (

    select
        cast(date_trunc('month', incident_date) as date) as month_start,
        municipality_code,
        coalesce(iccs_level_2_code, 'unclassified') as iccs_division_code,
        count(*) as victims,
        count(*) filter (where is_femicide) as femicide_victims,
        count(*) filter (where is_intrafamily) as intrafamily_victims

    from reports
    group by 1, 2, 3

),

final as (

    select
        {{ dbt.concat([
            "to_char(monthly.month_start, 'YYYY-MM')", "'|'",
            "monthly.municipality_code", "'|'", "monthly.iccs_division_code"
        ]) }} as cell_id,
        to_char(monthly.month_start, 'YYYY-MM') as month,
        monthly.municipality_code,
        coalesce(municipalities.municipality_name, 'Sin municipio') as municipality_name,
        coalesce(municipalities.department_code, '99') as department_code,
        coalesce(municipalities.department_name, 'Sin departamento') as department_name,
        monthly.iccs_division_code,
        coalesce(iccs.name_es, 'Sin clasificar') as iccs_division_name_es,
        coalesce(iccs.name_en, 'Unclassified') as iccs_division_name_en,
        monthly.victims,
        monthly.femicide_victims,
        monthly.intrafamily_victims

    from monthly
    left join municipalities
        on monthly.municipality_code = municipalities.municipality_code
    left join iccs
        on monthly.iccs_division_code = iccs.iccs_code

)

select * from final
