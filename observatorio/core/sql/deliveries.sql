-- Columns the extracts and the bulletin add to ops.deliveries (created in bootstrap.sql).
-- Idempotent: applied by observatorio.delivery.extracts before every delivery is audited.
alter table ops.deliveries add column if not exists spec_name text;
alter table ops.deliveries add column if not exists format text;
alter table ops.deliveries add column if not exists remote_location text;
alter table ops.deliveries add column if not exists archive_sha256 text;
alter table ops.deliveries add column if not exists bytes_delivered bigint;
alter table ops.deliveries add column if not exists suppressed_cells bigint;
alter table ops.deliveries add column if not exists as_of timestamptz;
alter table ops.deliveries add column if not exists is_redelivery boolean not null default false;
alter table ops.deliveries add column if not exists triggered_by text;

comment on column ops.deliveries.spec_name is 'Name of the spec (extracts/<spec_name>.yaml) or `bulletin`.';
comment on column ops.deliveries.files is 'Each delivered file: name, rows, bytes and SHA-256.';
comment on column ops.deliveries.remote_location is 'Where the channel put it: sftp://host/path or mailto: recipients.';
comment on column ops.deliveries.archive_sha256 is 'SHA-256 of the zip sent by SFTP or email.';
comment on column ops.deliveries.suppressed_cells is 'Cells hidden by disclosure control (primary and complementary).';
comment on column ops.deliveries.as_of is 'Latest batch the delivered numbers reflect.';
comment on column ops.deliveries.is_redelivery is 'True when this spec and period had already been delivered successfully.';
comment on column ops.deliveries.triggered_by is '`schedule` (the deliver_extracts DAG) or `manual` (the CLI).';

create index if not exists deliveries_spec_idx on ops.deliveries (spec_name, period, delivered_at);
