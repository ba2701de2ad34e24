"""CallBatcher: a lone call goes at once; calls made while one is in flight go together in the next batch;
one item's error fails only its caller (the real class, driven by an in-process sender)."""

from __future__ import annotations

import asyncio

import pytest

from rayflow.service._batcher import CallBatcher, Failed, run_batch


class Sender:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()

    async def __call__(self, items: list[int]) -> list[object]:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            await self.release.wait()  # the first batch stays in flight until the test lets it go
        return [Failed(ValueError(f"bad {i}")) if i < 0 else i * 10 for i in items]


async def test_calls_made_while_one_is_in_flight_go_together():
    sender = Sender()
    batcher = CallBatcher(sender)
    first = asyncio.ensure_future(batcher.call(1))
    await asyncio.sleep(0.01)
    assert sender.batches == [[1]]  # a lone call is sent at once, not held for company
    later = [asyncio.ensure_future(batcher.call(i)) for i in (2, 3, -4, 5)]
    await asyncio.sleep(0.01)
    assert sender.batches == [[1]]  # queued behind the one in flight
    sender.release.set()
    assert await first == 10
    results = await asyncio.gather(*later, return_exceptions=True)
    assert sender.batches == [[1], [2, 3, -4, 5]]
    assert results[:2] == [20, 30] and results[3] == 50
    assert isinstance(results[2], ValueError) and str(results[2]) == "bad -4"


async def test_a_failed_batch_call_fails_each_of_its_callers():
    async def broken(items: list[int]) -> list[int]:
        raise ConnectionError("the actor is gone")

    batcher = CallBatcher(broken)
    with pytest.raises(ConnectionError, match="gone"):
        await batcher.call(1)


async def test_run_batch_answers_each_call_with_its_result_or_failure():
    async def double(x: int) -> int:
        if x == 0:
            raise KeyError("zero")
        return 2 * x

    results = await run_batch({"double": double}, [("double", (1,)), ("double", (0,)), ("double", (4,))])
    assert results[0] == 2 and results[2] == 8
    assert isinstance(results[1], Failed) and isinstance(results[1].error, KeyError)
