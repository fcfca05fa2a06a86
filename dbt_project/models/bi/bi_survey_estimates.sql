-- The survey's estimates for BI: only what the publication rules let out (a suppressed
-- estimate has no value, interval or error), with the verdict beside each; by sex and age
-- group of the respondents as `bi.indicators_monthly` names them (`all` the totals).
-- Department rows belong to their department, national rows to national logins.
with

estimates as (

    select * from {{ ref('mart_survey_estimates') }}

),

final as (

    select
        estimate_id,
        survey_year,
        domain_level,
        domain_code,
        department_code,
        domain_name,
        sex,
        age_group,
        measure,
        crime_type,
        value,
        value_lower_95,
        value_upper_95,
        case when verdict <> 'suppressed' then cv end as cv,
        base_respondents,
        verdict

    from estimates

)

select * from final
