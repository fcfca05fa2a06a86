"""Great Expectations gates: one suite module per source entity, and the gate that runs them.

Suites are built in code (`expectations.suites.<source>__<entity>.build_suite`) and run by
`expectations.gate` inside PostgreSQL, on the batch's table in `ingest`, before publication.
"""
