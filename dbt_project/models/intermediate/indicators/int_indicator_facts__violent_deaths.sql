-- The violent deaths indicators count, in the facts' shape (see dbt_project/indicators/
-- _facts.yml): every death of every health source, labelled with its source. A death the
-- forensic mart holds (same batch and row) is explained from `fct_violent_deaths` by its
-- record id; any other from the interface by contract and record id.
with

deaths as (

    select * from {{ ref('int_violent_deaths_classified') }}

),

forensic as (

    select * from {{ ref('fct_violent_deaths') }}

),

final as (

    select
        case
            when forensic.forensic_record_id is not null then 'fct_violent_deaths'
            else 'stg_interface__violent_deaths'
        end as fact_model,
        coalesce(
            forensic.forensic_record_id, deaths.source_contract || ':' || deaths.record_id
        ) as fact_key,
        coalesce(
            forensic.forensic_record_id, deaths.source_contract || ':' || deaths.record_id
        ) as counted_id,
        deaths.municipality_code,
        to_char(deaths.death_date, 'YYYY-MM') as month,
        deaths.source_system,
        deaths.sex,
        deaths.age_years,
        deaths.icd10_code as icd10_cause_code,
        deaths.intent,
        deaths.is_homicide,
        deaths.is_legal_intervention,
        deaths.batch_id,
        deaths.source_file,
        deaths.source_row,
        deaths.file_sha256

    from deaths
    left join forensic
        on
            deaths.batch_id = forensic.batch_id
            and deaths.source_row = forensic.source_row

)

select * from final
