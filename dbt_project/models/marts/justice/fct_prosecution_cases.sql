-- One row per prosecution case in its latest known version: where and when it was opened,
-- the offence in the national code and the ICCS, and what the prosecutor decided.
with

cases as (

    select * from {{ ref('int_justice_cases_deduplicated') }}

),

parties as (

    select * from {{ ref('int_justice_parties_deduplicated') }}

),

offences as (

    select * from {{ ref('int_national_offences') }}

),

iccs as (

    select * from {{ ref('ref_iccs_categories') }}

),

municipalities as (

    select * from {{ ref('int_municipalities') }}

),

municipality_names as (

    select * from {{ ref('int_municipality_names') }}

),

party_counts as (

    select
        case_id,
        count(*) filter (where party_role = 'victima') as victims,
        count(*) filter (where party_role = 'imputado') as defendants

    from parties
    group by case_id

),

final as (

    select
        cases.case_id,
        cases.police_report_number,
        cases.opened_date,
        coalesce(by_code.municipality_code, by_name.municipality_code, '99999')
            as municipality_code,
        cases.national_offence_code,
        nullif(offences.iccs_code, '') as iccs_code,
        iccs.level_1_code as iccs_level_1_code,
        iccs.level_2_code as iccs_level_2_code,
        coalesce(offences.iccs_code, '') <> '' as is_classified,
        cases.case_status,
        coalesce(cases.prosecutor_decision, 'pending') as prosecutor_decision,
        cases.decision_date,
        cases.decision_date - cases.opened_date as days_to_decision,
        coalesce(cases.prosecutor_decision = 'indictment', false) as is_indicted,
        cases.court_case_id,
        cases.court_filed_date,
        coalesce(party_counts.victims, 0) as victims,
        coalesce(party_counts.defendants, 0) as defendants,
        cases.version_count,
        cases.created_at,
        cases.updated_at,
        cases.batch_id,
        cases.source_file,
        cases.source_row,
        cases.file_sha256

    from cases
    left join municipalities as by_code
        on cases.municipality_reported = by_code.municipality_code
    -- The justice system keeps codes; its own spellings of names only back up a bad code.
    left join municipality_names as by_name
        on
            by_code.municipality_code is null
            and {{ normalise_text('cases.municipality_name') }} = by_name.name_key
    left join offences
        on cases.national_offence_code = offences.national_offence_code
    left join iccs
        on offences.iccs_code = iccs.iccs_code
    left join party_counts
        on cases.case_id = party_counts.case_id

)

select * from final
