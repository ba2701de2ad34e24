"""What workers report: workflow task and activity outcomes, and heartbeats (internal).

Every report names its task by token; one that no longer matches the execution (timed out, retried, the run
closed) raises ``TaskNotFoundError`` and changes nothing.
"""

from __future__ import annotations

import logging
import uuid

from rayflow.proto.rayflow.v1 import history_pb2, internal_pb2, message_pb2
from rayflow.proto.rayflow.v1 import request_response_pb2 as RR
from rayflow.service.errors import TaskNotFoundError
from rayflow.service.history import payload_limits, timeouts, versioning
from rayflow.service.history.api.tasks import activity_task, workflow_task
from rayflow.service.history.command_handler import BadCommandError, apply_commands
from rayflow.service.history.context import ShardContext
from rayflow.service.history.execution_cache import Key
from rayflow.service.history.mutable_state import StateBuilder

logger = logging.getLogger(__name__)


async def respond_workflow_task_completed(ctx: ShardContext, request: RR.RespondWorkflowTaskCompletedRequest
                                          ) -> RR.RespondWorkflowTaskCompletedResponse:
    """Apply the commands; activities the worker offered to run itself come back started (eager)."""
    token = internal_pb2.TaskToken.FromString(request.task_token)
    key = token_key(token)
    eager: list[int] = []

    def complete(builder: StateBuilder) -> bool:
        check_workflow_task(builder, token)
        for command in request.commands:
            oversized = payload_limits.command_violation(command, ctx.config.max_payload_size)
            if oversized is not None:  # nothing of the task is recorded, and the run fails (no endless retry)
                payload_limits.fail_oversized_workflow(builder, oversized, request.identity)
                return True
        trial = StateBuilder(builder.state, builder.now)
        completed = trial.complete_workflow_task(request.identity)
        versioning.record_completion(trial.info, request, completed.workflow_task_completed_event_attributes)
        try:
            apply_commands(trial, list(request.commands), completed.event_id, request.identity)
            if trial.closed and any(e.event_type == history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
                                    for e in builder.state.buffered_events):
                # Temporal's UnhandledCommand: the code must see these signals before the run may close.
                raise BadCommandError(
                    history_pb2.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
                    "signals arrived while the workflow task ran; the task runs again to handle them",
                )
        except BadCommandError as err:
            failure = message_pb2.Failure(message=str(err), source="rayflow-service")
            failure.server_failure_info.SetInParent()
            builder.fail_workflow_task(err.cause, failure, request.identity, timed_out=False)
            return True
        if not trial.closed:
            trial.info.sticky_task_queue = request.sticky_task_queue
            if request.HasField("sticky_schedule_to_start_timeout"):
                trial.info.sticky_schedule_to_start_timeout.CopyFrom(request.sticky_schedule_to_start_timeout)
            if trial.flush_buffered_events() or ctx.updates.needs_task(
                    key, trial.state, (r.update_id for r in request.rejected_updates)):
                trial.schedule_workflow_task()
            eager.extend(_start_eagerly(trial, request))
        builder.adopt(trial)
        return True

    state = await ctx.transact(key, complete, missing_ok=False)
    ctx.updates.rejected(key, request.rejected_updates)
    response = RR.RespondWorkflowTaskCompletedResponse()
    for scheduled_event_id in eager:
        response.activity_tasks.append(activity_task(key, state, state.activities[scheduled_event_id]))
    return response


def _start_eagerly(builder: StateBuilder, request: RR.RespondWorkflowTaskCompletedRequest) -> list[int]:
    """Start, in this same write, activities the completing worker runs itself (no Matching round trip)."""
    slots = request.eager_activity_slots
    if slots <= 0:
        return []
    types = set(request.eager_activity_types)
    started = []
    for task in list(builder.tasks):
        if len(started) >= slots:
            break
        act = builder.state.activities.get(task.scheduled_event_id)
        if (task.task_queue_type != RR.TASK_QUEUE_TYPE_ACTIVITY or act is None or act.resource_label
                or act.task_queue != builder.info.task_queue or act.activity_type not in types
                or act.version_directive != builder.info.version_directive):  # DEFAULT intent: maybe elsewhere
            continue
        builder.tasks.remove(task)
        builder.start_activity(act, request.identity, f"eager-{uuid.uuid4().hex}")
        started.append(act.scheduled_event_id)
    return started


async def respond_workflow_task_failed(ctx: ShardContext, request: RR.RespondWorkflowTaskFailedRequest) -> None:
    token = internal_pb2.TaskToken.FromString(request.task_token)

    def fail(builder: StateBuilder) -> bool:
        check_workflow_task(builder, token)
        builder.fail_workflow_task(request.cause, request.failure, request.identity, timed_out=False)
        return True

    await ctx.transact(token_key(token), fail, missing_ok=False)


async def respond_activity_task_completed(ctx: ShardContext, request: RR.RespondActivityTaskCompletedRequest
                                          ) -> RR.RespondActivityTaskCompletedResponse:
    """Record the result; the workflow task it schedules comes back started when it is the worker's own."""
    token = internal_pb2.TaskToken.FromString(request.task_token)
    handed_over = False

    def complete(builder: StateBuilder) -> bool:
        nonlocal handed_over
        act = check_activity(builder, token)
        oversized = ctx.oversized(request.result, f"the result of activity {act.activity_type!r}")
        if oversized is not None:  # the attempt fails without retries: a retry would return the same data
            _fail_activity_oversized(builder, act, oversized, request.identity)
        else:
            builder.finish_activity(
                act,
                history_pb2.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
                history_pb2.ActivityTaskCompletedEventAttributes(result=request.result, identity=request.identity),
            )
        handed_over = _start_on_sticky_worker(builder, request.worker_sticky_task_queue, request.identity)
        return True

    key = token_key(token)
    state = await ctx.transact(key, complete, missing_ok=False)
    response = RR.RespondActivityTaskCompletedResponse()
    if handed_over:
        response.workflow_task.ParseFromString(await workflow_task(ctx, key, state, sticky=True))
    return response


def _start_on_sticky_worker(builder: StateBuilder, worker_sticky_queue: str, identity: str) -> bool:
    """Start the just-scheduled workflow task on the worker whose sticky queue it was bound for."""
    wft = builder.state.workflow_task
    if not worker_sticky_queue or wft.started_event_id or wft.task_queue != worker_sticky_queue:
        return False
    for task in builder.tasks:
        if task.task_queue_type == RR.TASK_QUEUE_TYPE_WORKFLOW and task.scheduled_event_id == wft.scheduled_event_id:
            builder.tasks.remove(task)
            builder.start_workflow_task(identity, f"handover-{uuid.uuid4().hex}")
            return True
    return False


async def respond_activity_task_failed(ctx: ShardContext, request: RR.RespondActivityTaskFailedRequest) -> None:
    token = internal_pb2.TaskToken.FromString(request.task_token)

    def fail(builder: StateBuilder) -> bool:
        act = check_activity(builder, token)
        oversized = (ctx.oversized(request.failure, f"the failure of activity {act.activity_type!r}")
                     or ctx.oversized(request.last_heartbeat_details,
                                      f"the heartbeat details of activity {act.activity_type!r}"))
        if oversized is not None:
            _fail_activity_oversized(builder, act, oversized, request.identity)
            return True
        if request.HasField("last_heartbeat_details"):
            act.heartbeat_details.CopyFrom(request.last_heartbeat_details)
        timeouts.fail_activity(builder, act, request.failure, request.identity)
        return True

    await ctx.transact(token_key(token), fail, missing_ok=False)


async def respond_activity_task_canceled(ctx: ShardContext, request: RR.RespondActivityTaskCanceledRequest) -> None:
    """The attempt ended by honouring a cancel request: ACTIVITY_TASK_CANCELED (no retry)."""
    token = internal_pb2.TaskToken.FromString(request.task_token)

    def cancel(builder: StateBuilder) -> bool:
        act = check_activity(builder, token)
        if ctx.oversized(request.details, "cancellation details") is not None:
            logger.warning("activity %s: its cancellation details are over the payload limit; dropped",
                           act.activity_type)
            request.ClearField("details")
        builder.finish_activity(
            act,
            history_pb2.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
            history_pb2.ActivityTaskCanceledEventAttributes(
                details=request.details,
                latest_cancel_requested_event_id=act.cancel_requested_event_id,
                identity=request.identity,
            ),
        )
        return True

    await ctx.transact(token_key(token), cancel, missing_ok=False)


async def record_activity_heartbeat(ctx: ShardContext, request: RR.RecordActivityTaskHeartbeatRequest
                                    ) -> RR.RecordActivityTaskHeartbeatResponse:
    token = internal_pb2.TaskToken.FromString(request.task_token)
    cancel_requested = False

    def heartbeat(builder: StateBuilder) -> bool:
        nonlocal cancel_requested
        act = check_activity(builder, token)
        oversized = ctx.oversized(request.details, f"the heartbeat details of activity {act.activity_type!r}")
        if oversized is not None:  # as in Temporal: the attempt fails, and the worker is told to stop it
            _fail_activity_oversized(builder, act, oversized, request.identity)
            cancel_requested = True
            return True
        act.heartbeat_details.CopyFrom(request.details)
        act.last_heartbeat_time.FromDatetime(builder.now)
        cancel_requested = act.cancel_requested
        return True

    await ctx.transact(token_key(token), heartbeat, missing_ok=False)
    return RR.RecordActivityTaskHeartbeatResponse(cancel_requested=cancel_requested)


def _fail_activity_oversized(builder: StateBuilder, act: internal_pb2.ActivityInfo, message: str,
                             identity: str) -> None:
    builder.finish_activity(
        act,
        history_pb2.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        history_pb2.ActivityTaskFailedEventAttributes(
            failure=payload_limits.oversized_failure(message), identity=identity,
            retry_state=message_pb2.RETRY_STATE_NON_RETRYABLE_FAILURE,
        ),
    )


def token_key(token: internal_pb2.TaskToken) -> Key:
    return token.namespace, token.workflow_id, token.run_id


def check_workflow_task(builder: StateBuilder, token: internal_pb2.TaskToken) -> None:
    wft = builder.state.workflow_task
    if (not builder.is_open or wft.scheduled_event_id != token.scheduled_event_id
            or wft.started_event_id != token.started_event_id or not wft.started_event_id):
        raise TaskNotFoundError(
            f"workflow task {token.scheduled_event_id} of {token.workflow_id!r} is no longer running "
            f"(it timed out, was retried, or the workflow closed)"
        )


def check_activity(builder: StateBuilder, token: internal_pb2.TaskToken) -> internal_pb2.ActivityInfo:
    act = builder.state.activities.get(token.scheduled_event_id)
    if not builder.is_open or act is None or act.attempt != token.attempt or not act.HasField("started_time"):
        raise TaskNotFoundError(
            f"activity {token.activity_id!r} attempt {token.attempt} of {token.workflow_id!r} is no longer "
            f"running (it timed out, was retried, or the workflow closed)"
        )
    return act
