"""The history shard's request handlers (internal): one module per kind of request, each a set of functions of
the ``ShardContext`` (context.py) that the thin actor (shard.py) calls, as in Temporal's ``service/history/api``.

- ``start``: StartWorkflowExecution (with signal-with-start and the id policies).
- ``inputs``: signals, cancel requests and terminations from clients, idempotent by request id.
- ``read``: describe, history, list and count.
- ``waits``: clients' waits for runs to close (one long poll per client and shard).
- ``tasks``: a task handed to a poller recorded as started, and what the poller needs to run it.
- ``respond``: the outcome of workflow and activity tasks, and heartbeats.
- ``query`` and ``update``: queries (never recorded) and updates.
- ``child_work``: the cross-shard work of child workflows and their parents after each commit.
- ``namespace``: namespace settings (retention), run by shard 0.
"""
