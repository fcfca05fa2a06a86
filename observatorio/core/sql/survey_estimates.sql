-- Design-based estimates of the victimisation survey (observatorio.transform.survey_estimates),
-- written after the survey facts are built and read by dbt (mart_survey_estimates). Applied
-- with the bootstrap, so the mart builds (empty) from day one.
create schema if not exists ops;

create table if not exists ops.survey_estimates (
    survey_year integer not null,
    domain_level text not null check (domain_level in ('national', 'department')),
    domain_code text not null,
    measure text not null check (measure in ('prevalence', 'reporting_rate')),
    crime_type text not null,
    estimate double precision,
    standard_error double precision,
    lower_95 double precision,
    upper_95 double precision,
    cv double precision,
    degrees_of_freedom integer not null,
    respondents integer not null,
    base_respondents integer not null,
    verdict text not null check (verdict in ('published', 'imprecise', 'suppressed')),
    -- The survey batches whose answers the estimate rests on (lineage).
    batch_ids text [] not null,
    estimated_at timestamptz not null default now(),
    primary key (survey_year, domain_level, domain_code, measure, crime_type)
);
