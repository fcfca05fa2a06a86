-- Columns the extracts and the bulletin add to ops.deliveries (created in bootstrap.sql).
-- Idempotent: applied with the bootstrap when the warehouse starts
-- (observatorio.core.warehouse.BOOTSTRAP_SQL), never by a delivery.
alter table ops.deliveries add column if not exists spec_name text;
alter table ops.deliveries add column if not exists format text;
alter table ops.deliveries add column if not exists remote_location text;
alter table ops.deliveries add column if not exists archive_sha256 text;
alter table ops.deliveries add column if not exists bytes_delivered bigint;
alter table ops.deliveries add column if not exists suppressed_cells bigint;
alter table ops.deliveries add column if not exists as_of timestamptz;
alter table ops.deliveries add column if not exists is_redelivery boolean not null default false;
alter table ops.deliveries add column if not exists triggered_by text;
alter table ops.deliveries add column if not exists run_id text;
alter table ops.deliveries add column if not exists attempt integer;
alter table ops.deliveries add column if not exists scheduled_for timestamptz;
alter table ops.deliveries add column if not exists disclosure_level text;

comment on column ops.deliveries.spec_name is 'Name of the spec (extracts/<spec_name>.yaml) or `bulletin`.';
comment on column ops.deliveries.files is 'Each delivered file: name, rows, bytes and SHA-256.';
comment on column ops.deliveries.remote_location is 'Where the channel put it: sftp://host/path or mailto: recipients.';
comment on column ops.deliveries.archive_sha256 is 'SHA-256 of the zip sent by SFTP or email.';
comment on column ops.deliveries.suppressed_cells is 'Cells hidden by disclosure control (primary and complementary).';
comment on column ops.deliveries.as_of is 'Latest batch the delivered numbers reflect.';
comment on column ops.deliveries.is_redelivery is 'True when this spec and period had already been delivered successfully.';
comment on column ops.deliveries.triggered_by is '`schedule` (the deliver_extracts DAG) or `manual` (the CLI).';
comment on column ops.deliveries.run_id is 'The deliver_extracts DAG run that delivered it (null from the CLI).';
comment on column ops.deliveries.attempt is 'The task try of that run: a cleared run delivers its period again as the next attempt.';
comment on column ops.deliveries.scheduled_for is 'The run''s moment: the end of its data interval, or when it was due to run; the period is the last month closed by then.';
comment on column ops.deliveries.disclosure_level is 'The recipient''s level the delivery was protected for: `public` or `external` (small counts suppressed) or `owner` (exact counts under agreement).';

create index if not exists deliveries_spec_idx on ops.deliveries (spec_name, period, delivered_at);
