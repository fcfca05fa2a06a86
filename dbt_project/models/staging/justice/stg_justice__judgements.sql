-- The justice system's judgements in the shape of the `court_judgements` interface
-- (stg_interface__court_judgements checks it). SQL, not a contract mapping: the verdict codes
-- become the interface's words.
with

source as (

    select * from {{ source('justice', 'justice__judgements') }}

),

renamed as (

    select
        judgement_id,
        case_id,
        party_id,
        judgement_date,
        verdict as verdict_code,
        case verdict
            when 'condena' then 'conviction'
            when 'absolucion' then 'acquittal'
        end as verdict,
        sentence_months,
        status as judgement_status,
        created_at,
        updated_at,
        {{ interface_source_columns('justice', source('justice', 'justice__judgements')) }},
        {{ provenance_columns(source_query=true) }}

    from source

)

select * from renamed
