-- What the retention DAG deleted: one row per file, with why (never the file's content).
create table if not exists ops.retention_log (
    retention_id bigserial primary key,
    area text not null,
    file_path text not null,
    file_bytes bigint not null,
    modified_at timestamptz not null,
    retained_days integer not null,
    deleted_at timestamptz not null default now()
);
create index if not exists retention_log_deleted_idx on ops.retention_log (deleted_at);
comment on table ops.retention_log is
    'Files deleted by the retention DAG (archive, rejected, landing leftovers, outbox): path, size, age rule.';
