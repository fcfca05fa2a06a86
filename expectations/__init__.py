"""Great Expectations gates: one suite module per source entity, and the gate that runs them.

A batch suite is generated from the source's contract (`expectations.generated`), plus the
domain checks of `expectations.suites.<source>__<entity>` where the source has such a module,
and run by `expectations.gate` inside PostgreSQL, on the batch's table in `ingest`, before
publication.
"""
