-- The reconciled homicide victims as a fact the indicator definitions count (interface
-- `homicide_victims`), one row per victim in the common shape (fact_model, fact_key,
-- counted_id, municipality_code, month, provenance). A reconciled victim is loaded from no
-- single batch: it keeps the provenance of its forensic record, else of its police record
-- (null when it has neither, e.g. hospital-only victims).
with

homicide_victims as (

    select * from {{ ref('fct_homicide_victims') }}

),

violent_deaths as (

    select * from {{ ref('fct_violent_deaths') }}

),

crime_reports as (

    select * from {{ ref('fct_crime_reports') }}

),

-- The register may prefix a record id with its system; an equality on the stripped id
-- (not `in (id, prefix || id)`, an OR the planner can only nest-loop) keeps it a hash join.
provenance as (

    select
        homicide_victims.victim_id,
        homicide_victims.municipality_code,
        homicide_victims.month,
        homicide_victims.is_homicide,
        homicide_victims.final_status,
        coalesce(by_forensic.batch_id, by_police.batch_id) as batch_id,
        coalesce(by_forensic.source_file, by_police.source_file) as source_file,
        coalesce(by_forensic.source_row, by_police.source_row) as source_row,
        coalesce(by_forensic.file_sha256, by_police.file_sha256) as file_sha256,
        row_number() over (
            partition by homicide_victims.victim_id
            order by
                coalesce(by_forensic.batch_id, by_police.batch_id),
                coalesce(by_forensic.source_row, by_police.source_row)
        ) as pick

    from homicide_victims
    left join violent_deaths as by_forensic
        on
            regexp_replace(homicide_victims.forensic_record_id, '^forensic:', '')
            = by_forensic.forensic_record_id
    left join crime_reports as by_police
        on
            regexp_replace(homicide_victims.police_record_id, '^police:', '')
            = by_police.report_victim_id

),

final as (

    select
        'fct_homicide_victims' as fact_model,
        cast(victim_id as text) as fact_key,
        cast(victim_id as text) as counted_id,
        municipality_code,
        month,
        is_homicide,
        final_status,
        batch_id,
        source_file,
        source_row,
        file_sha256

    from provenance
    where pick = 1

)

select * from final
