-- Schemas and operational tables of the warehouse. Idempotent: applied on every start.
create schema if not exists raw;
create schema if not exists ingest;
create schema if not exists ops;
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;

comment on schema raw is 'Published source batches, one table per source entity, with provenance columns.';
comment on schema ingest is 'Transient per-batch tables, validated by the gate before publication.';
comment on schema ops is 'Batch ledger, file receipts, quarantine, validation results, deliveries.';

-- One row per batch: a batch is one distinct content of one source entity.
create table if not exists ops.batch_ledger (
    batch_id text primary key,
    source text not null,
    source_file text,
    source_query text,
    file_sha256 text,
    file_bytes bigint,
    rows_read bigint not null default 0,
    rows_loaded bigint not null default 0,
    rows_quarantined bigint not null default 0,
    status text not null check (status in ('loading', 'loaded', 'rejected')),
    has_warnings boolean not null default false,
    warnings text [] not null default '{}',
    error text,
    started_at timestamptz not null default now(),
    validated_at timestamptz,
    finished_at timestamptz,
    check (status <> 'loaded' or rows_read = rows_loaded + rows_quarantined)
);
create index if not exists batch_ledger_sha_idx on ops.batch_ledger (source, file_sha256);
-- Footer rows (notes, sources under a table) are read and counted, never loaded; a batch
-- whose rows stand for counts of events or victims also records the sum it loaded.
alter table ops.batch_ledger add column if not exists rows_footer bigint not null default 0;
alter table ops.batch_ledger add column if not exists count_loaded bigint;
alter table ops.batch_ledger drop constraint if exists batch_ledger_check;
do $$
begin
    if not exists (
        select from pg_constraint where conname = 'batch_ledger_rows_add_up'
    ) then
        alter table ops.batch_ledger add constraint batch_ledger_rows_add_up check (
            status <> 'loaded' or rows_read = rows_loaded + rows_quarantined + rows_footer
        );
    end if;
end
$$;

-- Every file that arrived, including re-sends that were skipped as already loaded.
create table if not exists ops.file_receipts (
    receipt_id bigserial primary key,
    source text not null,
    file_name text not null,
    file_sha256 text not null,
    file_bytes bigint not null,
    batch_id text not null,
    outcome text not null check (outcome in ('loaded', 'skipped', 'rejected')),
    received_at timestamptz not null default now()
);

-- Rows that broke the contract: kept with the reason, never silently dropped.
create table if not exists ops.quarantine (
    quarantine_id bigserial primary key,
    batch_id text not null,
    source text not null,
    source_row bigint not null,
    column_name text,
    reason text not null,
    offending_value text,
    recorded_at timestamptz not null default now()
);
create index if not exists quarantine_batch_idx on ops.quarantine (batch_id);

-- One row per expectation per validation run, for batches and for marts after dbt.
create table if not exists ops.validation_results (
    result_id bigserial primary key,
    run_id text not null,
    batch_id text,
    suite_name text not null,
    expectation_type text not null,
    column_name text,
    severity text not null check (severity in ('critical', 'warning', 'info')),
    success boolean not null,
    observed_value text,
    unexpected_count bigint,
    sample_rows text,
    validated_at timestamptz not null default now()
);
create index if not exists validation_results_batch_idx on ops.validation_results (batch_id);

-- Every delivery of an extract, successful or not.
create table if not exists ops.deliveries (
    delivery_id bigserial primary key,
    recipient text not null,
    spec_file text not null,
    period text,
    channel text not null,
    location text,
    files jsonb not null default '[]',
    rows_delivered bigint not null default 0,
    success boolean not null,
    error text,
    delivered_at timestamptz not null default now()
);

-- Where each incremental connector (SQL, REST) stopped: its cursor, kept per source entity.
create table if not exists ops.watermarks (
    source text primary key,
    cursor_value jsonb not null,
    updated_at timestamptz not null default now()
);

-- `batch` when the batch was validated alone; `run-level, N batches` when the batches of one
-- run were validated together (see expectations.gate).
alter table ops.validation_results add column if not exists scope text not null default 'batch';

-- The read-only role BI tools (Superset, Metabase, psql) use: it reads `marts` and nothing
-- else (dbt grants SELECT on each mart and USAGE on the schema, see dbt_project.yml). Roles
-- are cluster-wide and may already exist (another database on the same server, or an
-- administrator who made it with a login): create it only when missing, never alter it.
do $bi_role$
begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'observatorio_bi') then
        create role observatorio_bi nologin;
        comment on role observatorio_bi is
            'Read-only access to the marts schema of the Observatorio warehouse, for BI tools.';
    end if;
exception
    -- Two databases of one server bootstrapping at the same moment.
    when duplicate_object or unique_violation then null;
end
$bi_role$;

-- Which pseudonym key made the pseudonyms in this warehouse: a fingerprint (an HMAC of a fixed
-- label under the key), never the key. The first batch records it; every batch after checks
-- it, so a changed key stops ingestion instead of silently breaking linkage.
create table if not exists ops.key_fingerprint (
    id smallint primary key default 1 check (id = 1),
    fingerprint text not null,
    recorded_at timestamptz not null default now()
);

-- Every successful build_warehouse run, with what it built from: the published batches it saw
-- when it started (their count and the newest one's publication time) and the fingerprint of
-- the dbt project (models, macros, seeds). A run that finds neither a newer batch nor a
-- changed project does not run dbt (observatorio.transform.builds); a changed project, a
-- changed seed (code map) among it, rebuilds every incremental model from scratch.
create table if not exists ops.build_ledger (
    build_id bigserial primary key,
    run_id text,
    batches_loaded bigint not null,
    latest_batch_at timestamptz,
    project_fingerprint text not null,
    is_full_refresh boolean not null,
    started_at timestamptz not null,
    finished_at timestamptz not null default now()
);

-- Each pseudonym key rotation (`observatorio keys rotate`): the chain's fingerprints before
-- and after, and which columns were re-keyed; never a key.
create table if not exists ops.key_rotations (
    rotation_id bigserial primary key,
    rotated_at timestamptz not null default now(),
    old_fingerprint text not null,
    new_fingerprint text not null,
    columns_rekeyed text [] not null,
    rows_rekeyed bigint not null
);
