-- The victimisation survey's published estimates, each with its sampling error: the share of
-- adults victimised in the year (prevalence) and the share of victims who reported to the
-- police (reporting rate; its complement is the dark figure), for the nation and each
-- department, for all adults (`sex` and `age_group` `all`), by sex and by age group of the
-- respondent. `value` is null where the publication rules suppress the estimate (too few
-- respondents, or a coefficient of variation above `survey_cv_suppress`).
with

estimates as (

    select * from {{ source('survey_estimates', 'survey_estimates') }}

),

departments as (

    select distinct
        department_code,
        department_name
    from {{ ref('int_municipalities') }}

),

final as (

    select
        {{ dbt.concat([
            "cast(estimates.survey_year as text)", "':'", "estimates.domain_level", "':'",
            "estimates.domain_code", "':'", "estimates.sex", "':'", "estimates.age_group", "':'",
            "estimates.measure", "':'", "estimates.crime_type",
        ]) }} as estimate_id,
        estimates.survey_year,
        estimates.domain_level,
        estimates.domain_code,
        case
            when estimates.domain_level = 'department' then estimates.domain_code
        end as department_code,
        coalesce(departments.department_name, 'Nacional') as domain_name,
        estimates.sex,
        estimates.age_group,
        estimates.measure,
        estimates.crime_type,
        case
            when estimates.verdict <> 'suppressed' then cast(estimates.estimate as numeric)
        end as value,
        case
            when estimates.verdict <> 'suppressed'
                then cast(estimates.standard_error as numeric)
        end as standard_error,
        case
            when estimates.verdict <> 'suppressed' then cast(estimates.lower_95 as numeric)
        end as value_lower_95,
        case
            when estimates.verdict <> 'suppressed' then cast(estimates.upper_95 as numeric)
        end as value_upper_95,
        cast(estimates.cv as numeric) as cv,
        estimates.degrees_of_freedom,
        estimates.respondents,
        estimates.base_respondents,
        estimates.verdict,
        estimates.verdict = 'imprecise' as is_imprecise,
        estimates.batch_ids

    from estimates
    left join departments
        on
            estimates.domain_level = 'department'
            and estimates.domain_code = departments.department_code

)

select * from final
