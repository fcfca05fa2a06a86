-- Design-based estimates of the victimisation survey (observatorio.transform.survey_estimates),
-- written after the survey facts are built and read by dbt (mart_survey_estimates). Applied
-- with the bootstrap, so the mart builds (empty) from day one.
create schema if not exists ops;

create table if not exists ops.survey_estimates (
    survey_year integer not null,
    domain_level text not null check (domain_level in ('national', 'department')),
    domain_code text not null,
    -- The respondents' sex and age group the estimate is of; `all` where not broken down.
    sex text not null default 'all',
    age_group text not null default 'all',
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
    constraint survey_estimates_pkey primary key (
        survey_year, domain_level, domain_code, sex, age_group, measure, crime_type
    )
);

-- A warehouse made before the estimates were broken down by sex and age group: its rows are
-- the `all` totals, and its key gains the two columns.
alter table ops.survey_estimates add column if not exists sex text not null default 'all';
alter table ops.survey_estimates add column if not exists age_group text not null default 'all';
do $$
begin
    if not exists (
        select 1
        from pg_constraint
        where
            conrelid = 'ops.survey_estimates'::regclass
            and conname = 'survey_estimates_pkey'
            and array_length(conkey, 1) = 7
    ) then
        alter table ops.survey_estimates drop constraint if exists survey_estimates_pkey;
        alter table ops.survey_estimates add constraint survey_estimates_pkey primary key (
            survey_year, domain_level, domain_code, sex, age_group, measure, crime_type
        );
    end if;
end
$$;
