-- Municipalities with their department, for BI filters and maps (each login sees its own
-- department's rows).
with

municipalities as (

    select * from {{ ref('dim_municipality') }}

),

final as (

    select
        municipality_code,
        municipality_name,
        department_code,
        department_name,
        is_unknown

    from municipalities

)

select * from final
