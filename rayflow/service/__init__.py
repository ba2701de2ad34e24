"""The rayflow service (internal): history shards and matching, as detached named Ray actors.

Nothing here is public API; clients and workers reach it through ``rayflow.client`` and
``rayflow.worker``.
"""
