"""BI clients that read the `bi` schema as a BI login: Apache Superset (`make bi`)."""
