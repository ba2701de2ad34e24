"""Replay cost of short histories, without Ray (issue 12): what a replica pays for a workflow not in its cache.

Each replay is what the replica does for a workflow task of a workflow it has not cached: a new
``WorkflowInstance``, ``apply`` of the whole history (past workflow tasks re-run in replay mode, the last one
live), ``close``. Histories are built by running the workflows themselves, as the service would record them.

    python bench/replay.py                    # both histories, 2000 replays each, best of 5 rounds
    python bench/replay.py --n 500 --rounds 3 --only w4

Histories: ``w4`` (W4's waiter after its signal: started, task, signal, task: 7 events, 2 workflow tasks) and
``seq10`` (a sequence of 10 activities, as W2: 63 events, 11 workflow tasks). Prints µs per replay, per event
and per workflow task.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import Sequence, Waiter  # noqa: E402  (the benchmark's own workflows)

from rayflow import workflow  # noqa: E402
from rayflow.proto.rayflow.v1 import command_pb2, history_pb2  # noqa: E402
from rayflow.worker.replay import WorkflowInstance  # noqa: E402
from tests.replay.histories import HistoryBuilder  # noqa: E402


def new_instance(cls: type, run_id: str = "run-1") -> WorkflowInstance:
    definition = workflow.get_definition(cls)
    return WorkflowInstance(definition, namespace="default", workflow_id="wf-1", run_id=run_id,
                            workflow_type=definition.name, task_queue="tq")


def run_task(cls: type, events: list[history_pb2.HistoryEvent]) -> list[command_pb2.Command]:
    instance = new_instance(cls)
    try:
        result = instance.apply(events)
    finally:
        instance.close()
    if result.task_failure is not None:
        raise RuntimeError(f"replay failed: {result.task_failure!r}")
    return list(result.commands)


def build_history(cls: type, *args: object, signal_after_first: str | None = None) -> list[history_pb2.HistoryEvent]:
    """The history of a run up to the WORKFLOW_TASK_STARTED of the task that completes it."""
    builder = HistoryBuilder(workflow.get_definition(cls).name, *args)
    builder.workflow_task()
    first = True
    while True:
        commands = run_task(cls, builder.events)
        if any(c.command_type == command_pb2.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION for c in commands):
            return list(builder.events)
        completed = builder.task_completed(commands)
        scheduled = [e for e in builder.events[completed:]
                     if e.event_type == history_pb2.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
        for event in scheduled:
            value = run_activity(event)
            builder.activity_completed(event.event_id, value)
        if first and signal_after_first:
            builder.signaled(signal_after_first)
        first = False
        builder.workflow_task()


def run_activity(event: history_pb2.HistoryEvent) -> object:
    from tests.replay.histories import CONVERTER

    attrs = event.activity_task_scheduled_event_attributes
    assert attrs.activity_type == "step", attrs.activity_type
    (value,) = CONVERTER.from_payloads(attrs.input)
    return value + 1


def measure(cls: type, events: list[history_pb2.HistoryEvent], n: int, rounds: int) -> float:
    """Best CPU seconds per replay over ``rounds`` rounds of ``n`` replays (CPU time, not wall time: other
    processes on a busy machine do not count)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(n):
            instance = new_instance(cls)
            result = instance.apply(events)
            instance.close()
        best = min(best, (time.process_time() - started) / n)
        assert result.task_failure is None and result.commands, result
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="replays per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=["w4", "seq10"], default=None)
    args = parser.parse_args()
    cases = {
        "w4": (Waiter, build_history(Waiter, signal_after_first="release")),
        "seq10": (Sequence, build_history(Sequence, 10)),
    }
    for name, (cls, events) in cases.items():
        if args.only and name != args.only:
            continue
        tasks = sum(1 for e in events if e.event_type == history_pb2.EVENT_TYPE_WORKFLOW_TASK_STARTED)
        n = args.n if name == "w4" else max(1, args.n // 5)
        seconds = measure(cls, events, n, args.rounds)
        print(f"{name:6s} {len(events):3d} events {tasks:2d} tasks: {seconds * 1e6:8.1f} µs/replay  "
              f"{seconds * 1e6 / len(events):6.1f} µs/event  {seconds * 1e6 / tasks:7.1f} µs/task", flush=True)


if __name__ == "__main__":
    main()
