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
        {{ provenance_columns(source_query=true) }}

    from source

)

select * from renamed
