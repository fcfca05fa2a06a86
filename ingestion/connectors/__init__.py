"""Connectors that pull from source systems (REST APIs, SQL databases) and land files.

A connector never writes to the warehouse: it lands each pull as a file in the source's
landing inbox, and the standard file path (claim → stage → gate → publish) ingests it.
"""
