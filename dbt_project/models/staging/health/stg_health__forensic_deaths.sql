-- One row per forensic record: the API re-sends a record each time it is re-stamped, so
-- the latest version by `updated_at` is kept here and the record id is the key.
with

source as (

    select * from {{ source('health', 'health__forensic_deaths') }}

),

renamed as (

    select
        record_id as forensic_record_id,
        death_date,
        autopsy_date,
        municipality_code,
        municipality_name as municipality_name_reported,
        coalesce(sex, 'I') as sex,
        age,
        -- "NN" bodies come with no national ID and no age.
        person_national_id_status <> 'missing' or age is not null as is_identified,
        person_national_id_pseudonym as person_id_pseudonym,
        person_national_id_status as person_id_status,
        -- The `NN` placeholder would give every unidentified body one shared name pseudonym.
        case
            when person_national_id_status <> 'missing' or age is not null
                then person_name_pseudonym
        end as person_name_pseudonym,
        case
            when person_national_id_status <> 'missing' or age is not null
                then person_name_tokens
        end as person_name_tokens,
        icd10_cause_raw,
        {{ normalise_icd10('icd10_cause_raw') }} as icd10_cause_code,
        manner_of_death as manner_of_death_reported,
        updated_at,
        {{ provenance_columns(source_query=true) }}

    from source

),

versions as (

    select
        *,
        row_number() over (
            partition by forensic_record_id
            order by updated_at desc, ingested_at desc, batch_id desc, source_row desc
        ) as version_rank,
        count(*) over (partition by forensic_record_id) as version_count

    from renamed

),

latest as (

    select * from versions
    where version_rank = 1

)

select * from latest
