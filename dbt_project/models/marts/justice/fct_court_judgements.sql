-- One row per court judgement (one per defendant of a tried case) in its latest known
-- version, with its case's dates, place and offence, and how long justice took.
with

judgements as (

    select * from {{ ref('int_justice_judgements_deduplicated') }}

),

cases as (

    select * from {{ ref('fct_prosecution_cases') }}

),

parties as (

    select * from {{ ref('int_justice_parties_deduplicated') }}

),

final as (

    select
        judgements.judgement_id,
        judgements.case_id,
        cases.court_case_id,
        judgements.party_id,
        judgements.verdict,
        judgements.verdict = 'conviction' as is_conviction,
        judgements.sentence_months,
        judgements.judgement_status,
        judgements.judgement_status = 'firme' as is_final,
        judgements.judgement_date,
        cast(judgements.became_final_at as date) as final_date,
        cases.opened_date as case_opened_date,
        cases.court_filed_date,
        judgements.judgement_date - cases.opened_date as days_from_case_opening,
        judgements.judgement_date - cases.court_filed_date as days_from_indictment,
        cases.municipality_code,
        cases.national_offence_code,
        cases.iccs_code,
        cases.iccs_level_2_code,
        parties.person_id_pseudonym as defendant_id_pseudonym,
        parties.sex as defendant_sex,
        parties.birth_year as defendant_birth_year,
        judgements.version_count,
        judgements.updated_at,
        judgements.batch_id,
        judgements.source_file,
        judgements.source_row,
        judgements.file_sha256

    from judgements
    left join cases
        on judgements.case_id = cases.case_id
    left join parties
        on judgements.party_id = parties.party_id

)

select * from final
