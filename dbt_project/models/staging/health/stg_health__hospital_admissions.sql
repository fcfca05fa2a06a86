-- One row per hospital admission: the API re-sends an admission when it is re-stamped (the
-- patient left, or died), so the latest version by `updated_at` is kept here.
with

source as (

    select * from {{ source('health', 'health__hospital_admissions') }}

),

renamed as (

    select
        admission_id,
        facility_code,
        admission_date,
        discharge_date,
        municipality_code,
        municipality_name as municipality_name_reported,
        coalesce(sex, 'I') as sex,
        age,
        -- Unidentified ("NN") patients come with no national ID and no age.
        person_national_id_status <> 'missing' or age is not null as is_identified,
        person_national_id_pseudonym as person_id_pseudonym,
        person_national_id_status as person_id_status,
        case
            when person_national_id_status <> 'missing' or age is not null
                then person_name_pseudonym
        end as person_name_pseudonym,
        case
            when person_national_id_status <> 'missing' or age is not null
                then person_name_tokens
        end as person_name_tokens,
        diagnosis_icd10_raw,
        {{ normalise_icd10('diagnosis_icd10_raw') }} as diagnosis_icd10_code,
        external_cause_icd10_raw,
        {{ normalise_icd10('external_cause_icd10_raw') }} as external_cause_icd10_code,
        discharge_condition,
        updated_at,
        {{ provenance_columns(source_query=true) }}

    from source

),

versions as (

    select
        *,
        row_number() over (
            partition by admission_id
            order by updated_at desc, ingested_at desc, batch_id desc, source_row desc
        ) as version_rank,
        count(*) over (partition by admission_id) as version_count

    from renamed

),

latest as (

    select * from versions
    where version_rank = 1

)

select * from latest
