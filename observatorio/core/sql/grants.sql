-- Who may do what, applied by observatorio_owner after the other bootstrap files, on every
-- start; idempotent. The roles themselves are made once by observatorio.core.roles.
-- Default privileges cover a table at birth: a new raw table, staging view or mart is readable
-- by exactly the roles below from the moment dbt or the loader creates it.
create schema if not exists snapshots;
create schema if not exists reference;
create schema if not exists bi;
create schema if not exists bi_access;

comment on schema bi is
    'Aggregates for BI tools: no person-level column, counts 1-9 suppressed, rows limited per recipient login.';
comment on schema bi_access is
    'Which department each BI login sees (row-level security of the bi schema).';

-- Schemas. Nobody but the owner and the transformer creates anything in the dbt schemas.
grant usage, create on schema ingest, raw to observatorio_loader;
grant usage on schema ops to observatorio_loader, observatorio_transformer, observatorio_delivery;
grant usage on schema raw to observatorio_transformer;
grant usage, create on schema staging, intermediate, marts, snapshots, reference, bi
    to observatorio_transformer;
grant usage on schema marts, reference to observatorio_analyst, observatorio_delivery;
grant usage on schema bi to observatorio_bi;
grant usage on schema bi_access to observatorio_bi, observatorio_transformer;

-- ops: the loader writes the ingestion and gate tables, and reads nothing else there.
grant select, insert, update, delete on
    ops.batch_ledger, ops.file_receipts, ops.quarantine, ops.validation_results,
    ops.watermarks, ops.retention_log
    to observatorio_loader;
-- The key's fingerprint: recorded by the first batch, read by every other (never changed).
grant select, insert on ops.key_fingerprint to observatorio_loader;
grant usage on sequence
    ops.file_receipts_receipt_id_seq, ops.quarantine_quarantine_id_seq,
    ops.validation_results_result_id_seq, ops.retention_log_retention_id_seq
    to observatorio_loader;
-- dbt's sources in ops (staging/ops, lineage, reconciliation): read only.
grant select on
    ops.batch_ledger, ops.validation_results, ops.victim_register, ops.victim_register_records
    to observatorio_transformer;
-- The survey's design-based estimates: computed from the survey facts by the transformer
-- (observatorio.transform.survey_estimates), replaced whole each build, read by dbt.
grant select, insert, delete on ops.survey_estimates to observatorio_transformer;
-- The build ledger: what each successful build saw (written by build_warehouse's last task).
grant select, insert on ops.build_ledger to observatorio_transformer;
grant usage on sequence ops.build_ledger_build_id_seq to observatorio_transformer;
-- Record linkage runs as the transformer: it rewrites the register (truncate and copy in
-- one transaction) and stores its models, without the right to create or alter a table.
grant select, insert, update, delete, truncate on
    ops.victim_register, ops.victim_register_records, ops.victim_register_links
    to observatorio_transformer;
grant select, insert on ops.victim_linkage_models to observatorio_transformer;
grant usage on sequence ops.victim_linkage_models_model_id_seq to observatorio_transformer;
-- Delivery: the batches behind a delivery, and its own audit rows (no update, no delete).
grant select on ops.batch_ledger, ops.deliveries to observatorio_delivery;
grant insert on ops.deliveries to observatorio_delivery;
grant usage on sequence ops.deliveries_delivery_id_seq to observatorio_delivery;

-- raw: the loader's tables, read by dbt. Tables the owner creates (migrations) count too.
grant select on all tables in schema raw to observatorio_transformer;
alter default privileges for role observatorio_loader in schema raw
    grant select on tables to observatorio_transformer;
alter default privileges for role observatorio_owner in schema raw
    grant select on tables to observatorio_transformer;

-- marts and reference: person-level, for the analyst group and for extracts.
grant select on all tables in schema marts, reference
    to observatorio_analyst, observatorio_delivery;
alter default privileges for role observatorio_transformer in schema marts
    grant select on tables to observatorio_analyst, observatorio_delivery;
alter default privileges for role observatorio_transformer in schema reference
    grant select on tables to observatorio_analyst, observatorio_delivery;

-- bi: the only schema BI logins read; each table also carries row-level security (dbt
-- macro bi_row_security, run as a post-hook on every build).
grant select on all tables in schema bi to observatorio_bi;
alter default privileges for role observatorio_transformer in schema bi
    grant select on tables to observatorio_bi;

-- An earlier version let BI read every mart: take that back.
revoke all on all tables in schema marts from observatorio_bi;
revoke usage on schema marts from observatorio_bi;
alter default privileges for role observatorio_transformer in schema marts
    revoke all on tables from observatorio_bi;

-- One row per BI login (observatorio.core.recipients writes them from bi/logins.yaml): the
-- department it sees, or null for the whole country. A login reads only its own row.
create table if not exists bi_access.recipient_scopes (
    login name primary key,
    recipient text not null,
    department_code text,
    updated_at timestamptz not null default now()
);
alter table bi_access.recipient_scopes enable row level security;
drop policy if exists own_row on bi_access.recipient_scopes;
create policy own_row on bi_access.recipient_scopes for select using (login = current_user);
grant select on bi_access.recipient_scopes to observatorio_bi, observatorio_transformer;

-- What the policies of the bi tables call. Invoker's rights: each login sees its own scope.
create or replace function bi_access.can_see_department(department text)
returns boolean
language sql
stable
as $$
    select exists (
        select from bi_access.recipient_scopes as scopes
        where
            scopes.login = current_user
            and (scopes.department_code is null or scopes.department_code = department)
    )
$$;
create or replace function bi_access.is_recipient()
returns boolean
language sql
stable
as $$
    select exists (select from bi_access.recipient_scopes where login = current_user)
$$;
revoke all on function bi_access.can_see_department(text), bi_access.is_recipient() from public;
grant execute on function bi_access.can_see_department(text), bi_access.is_recipient()
    to observatorio_bi, observatorio_transformer;
