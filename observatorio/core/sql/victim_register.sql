-- The register of homicide victims that record linkage maintains (observatorio.linkage.register).
-- Applied with the bootstrap, so the reconciliation marts build (empty) from day one.
create schema if not exists ops;

-- Every victim record the register has linked, with the values it was linked on.
create table if not exists ops.victim_register_records (
    unique_id text primary key,
    victim_id text not null,
    source_dataset text not null
        check (source_dataset in ('police', 'prosecution', 'forensic', 'hospital')),
    id_pseudonym text,
    name_pseudonym text,
    name_tokens text [],
    sex text,
    birth_year integer,
    age integer,
    event_date date not null,
    municipality_code text not null,
    classification text,
    is_unidentified boolean not null,
    report_id text,
    linked_at timestamptz not null default now()
);
create index if not exists victim_register_records_victim_idx
    on ops.victim_register_records (victim_id);

-- The links that made each victim: model links with their probability, or NN rules.
create table if not exists ops.victim_register_links (
    unique_id_l text not null,
    unique_id_r text not null,
    match_probability double precision,
    rule text not null check (rule in ('model', 'report_number', 'unique_nn_day_place')),
    linked_at timestamptz not null default now(),
    primary key (unique_id_l, unique_id_r)
);

-- One row per reconciled victim; dbt reads it as the source of fct_homicide_victims.
create table if not exists ops.victim_register (
    victim_id text primary key,
    record_count integer not null,
    systems text [] not null,
    has_police_record boolean not null,
    has_prosecution_record boolean not null,
    has_forensic_record boolean not null,
    has_hospital_record boolean not null,
    police_record_id text,
    prosecution_record_id text,
    forensic_record_id text,
    hospital_record_id text,
    police_classification text,
    prosecution_classification text,
    forensic_classification text,
    hospital_classification text,
    homicide_sources integer not null,
    match_probability double precision,
    linked_by_rule boolean not null,
    final_status text not null check (final_status in (
        'confirmed_homicide', 'homicide_single_source', 'undetermined_intent',
        'legal_intervention', 'not_homicide'
    )),
    is_unidentified boolean not null,
    event_date date not null,
    municipality_code text not null,
    is_police_without_autopsy boolean not null,
    is_autopsy_without_police boolean not null,
    is_reclassified boolean not null,
    id_pseudonym text,
    name_pseudonym text,
    updated_at timestamptz not null default now()
);

-- The trained linkage model (Splink JSON), one row per training; the latest is used.
create table if not exists ops.victim_linkage_models (
    model_id bigserial primary key,
    trained_at timestamptz not null default now(),
    records bigint not null,
    model jsonb not null
);
