"""Retry decisions for activity attempts (Temporal's rules)."""

from __future__ import annotations

from datetime import datetime, timedelta

from rayflow.proto.rayflow.v1 import message_pb2

# What a missing policy means for activities: Temporal's defaults (unlimited attempts).
_DEFAULT_POLICY = message_pb2.RetryPolicy(backoff_coefficient=2.0, maximum_attempts=0)
_DEFAULT_POLICY.initial_interval.FromTimedelta(timedelta(seconds=1))
_DEFAULT_POLICY.maximum_interval.FromTimedelta(timedelta(seconds=100))


def with_defaults(policy: message_pb2.RetryPolicy | None) -> message_pb2.RetryPolicy:
    """Fill unset fields of a retry policy with Temporal's defaults."""
    filled = message_pb2.RetryPolicy()
    filled.CopyFrom(_DEFAULT_POLICY)
    if policy is None:
        return filled
    if policy.HasField("initial_interval") and policy.initial_interval.ToTimedelta() > timedelta(0):
        filled.initial_interval.CopyFrom(policy.initial_interval)
        filled.maximum_interval.FromTimedelta(policy.initial_interval.ToTimedelta() * 100)
    if policy.backoff_coefficient >= 1.0:
        filled.backoff_coefficient = policy.backoff_coefficient
    if policy.HasField("maximum_interval") and policy.maximum_interval.ToTimedelta() > timedelta(0):
        filled.maximum_interval.CopyFrom(policy.maximum_interval)
    filled.maximum_attempts = policy.maximum_attempts
    filled.non_retryable_error_types[:] = list(policy.non_retryable_error_types)
    return filled


def next_retry_delay(
    policy: message_pb2.RetryPolicy,
    attempt: int,
    failure: message_pb2.Failure,
    now: datetime,
    expiration: datetime | None,
) -> tuple[timedelta | None, int]:
    """(delay before the next attempt, or None to stop; RetryState) after attempt ``attempt`` failed."""
    kind = failure.WhichOneof("failure_info")
    if kind == "application_failure_info":
        info = failure.application_failure_info
        if info.non_retryable or info.type in policy.non_retryable_error_types:
            return None, message_pb2.RETRY_STATE_NON_RETRYABLE_FAILURE
    elif kind == "timeout_failure_info":
        if "TimeoutError" in policy.non_retryable_error_types:
            return None, message_pb2.RETRY_STATE_NON_RETRYABLE_FAILURE
    if policy.maximum_attempts > 0 and attempt >= policy.maximum_attempts:
        return None, message_pb2.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED
    if kind == "application_failure_info" and failure.application_failure_info.HasField("next_retry_delay"):
        delay = failure.application_failure_info.next_retry_delay.ToTimedelta()
    else:
        initial = policy.initial_interval.ToTimedelta().total_seconds()
        seconds = initial * policy.backoff_coefficient ** (attempt - 1)
        seconds = min(seconds, policy.maximum_interval.ToTimedelta().total_seconds())
        delay = timedelta(seconds=seconds)
    if expiration is not None and now + delay >= expiration:
        return None, message_pb2.RETRY_STATE_TIMEOUT
    return delay, message_pb2.RETRY_STATE_IN_PROGRESS
