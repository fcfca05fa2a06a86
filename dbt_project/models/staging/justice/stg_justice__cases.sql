-- The justice system's prosecution cases in the shape of the `justice_cases` interface
-- (stg_interface__justice_cases checks it). SQL, not a contract mapping: the prosecutor's
-- decision codes become the interface's words.
with

source as (

    select * from {{ source('justice', 'justice__cases') }}

),

renamed as (

    select
        case_id,
        report_number as police_report_number,
        municipality_code as municipality_reported,
        municipality_name,
        offence_code as national_offence_code,
        opened_date,
        status as case_status,
        decision as decision_code,
        case decision
            when 'desestimada' then 'dismissed'
            when 'salida_alternativa' then 'alternative_resolution'
            when 'acusacion' then 'indictment'
        end as prosecutor_decision,
        decision_date,
        court_case_id,
        court_filed_date,
        created_at,
        updated_at,
        {{ interface_source_columns('justice', source('justice', 'justice__cases')) }},
        {{ provenance_columns(source_query=true) }}

    from source

)

select * from renamed
