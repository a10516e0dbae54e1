"""`GroupCommit` (crowdnb/store/postgres.py) on its own: concurrent callers share writes, each gets
its own results only after the write that holds them, and an error reaches exactly its group."""

from __future__ import annotations

import threading
import time

import pytest

from crowdnb.store.sql.postgres import GroupCommit, _Ticket


class Recorder:
    """A write that takes a while, remembers its groups and how many ran at once."""

    def __init__(self, seconds: float = 0.02, fail_on: int | None = None) -> None:
        self.seconds, self.fail_on = seconds, fail_on
        self.groups: list[list[int]] = []
        self.running = self.most_at_once = 0
        self.lock = threading.Lock()

    def __call__(self, items: list[int]) -> list[int]:
        with self.lock:
            self.groups.append(items)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(self.seconds)
        with self.lock:
            self.running -= 1
        if self.fail_on in items:
            raise RuntimeError(f"write of {items} failed")
        return [item * 10 for item in items]


def _crowd(group: GroupCommit[int, int], batches: list[list[int]]) -> list[list[int] | BaseException]:
    """Every batch handed in by its own thread, all at once; what each thread got back."""
    answers: list[list[int] | BaseException] = [[] for _ in batches]
    gate = threading.Barrier(len(batches))

    def call(i: int) -> None:
        gate.wait()
        try:
            answers[i] = group.run(batches[i])
        except RuntimeError as exc:
            answers[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a caller never got its answer"
    return answers


def test_a_lone_caller_writes_at_once_and_alone() -> None:
    write = Recorder(seconds=0)
    group = GroupCommit(write, leaders=2, max_items=10)
    assert group.run([1, 2]) == [10, 20]
    assert group.run([]) == []
    assert write.groups == [[1, 2], []] and group.groups == 2


def test_concurrent_callers_share_writes_and_each_gets_its_own_results() -> None:
    write = Recorder()
    group = GroupCommit(write, leaders=2, max_items=30)
    batches = [[i, 1000 + i] for i in range(40)]
    answers = _crowd(group, batches)
    assert answers == [[10 * a, 10 * b] for a, b in batches]
    written = sorted(item for items in write.groups for item in items)
    assert written == sorted(item for batch in batches for item in batch)  # each item written once
    assert len(write.groups) < len(batches) // 2  # shared: 40 callers, far fewer writes
    assert write.most_at_once <= 2
    assert max(map(len, write.groups)) <= 30


def test_a_failed_write_fails_its_group_only() -> None:
    write = Recorder(fail_on=7)
    group = GroupCommit(write, leaders=1, max_items=10)
    answers = _crowd(group, [[i] for i in range(20)])
    failed = {i for i, answer in enumerate(answers) if isinstance(answer, RuntimeError)}
    (bad,) = [items for items in write.groups if 7 in items]
    assert failed == set(bad)  # exactly the callers written with item 7
    assert all(answers[i] == [10 * i] for i in range(20) if i not in failed)
    assert group.run([3]) == [30]  # and the next caller is served


@pytest.mark.parametrize("leaders", [1, 3])
def test_the_lead_passes_on_until_every_caller_is_served(leaders: int) -> None:
    write = Recorder(seconds=0.005)
    group = GroupCommit(write, leaders=leaders, max_items=3)
    answers = _crowd(group, [[i] for i in range(30)])
    assert answers == [[10 * i] for i in range(30)]
    assert write.most_at_once <= leaders and group.run([1]) == [10]


def test_a_waiter_who_stops_waiting_is_forgotten_and_passes_on_a_lead() -> None:
    group: GroupCommit[int, int] = GroupCommit(Recorder(seconds=0), leaders=1, max_items=10)
    group._active = 1  # a leader is writing; three callers wait
    queued = [_Ticket([i]) for i in range(3)]
    group._queue.extend(queued)
    group._abandon(queued[0])  # interrupted while queued: out of the queue
    assert list(group._queue) == queued[1:]
    handed = group._next_leader()  # the leader finished and handed its lead on ...
    assert handed is queued[1] and handed.leads
    group._abandon(handed)  # ... to a caller who had stopped waiting: the lead goes on
    assert queued[2].leads and queued[2].done.acquire(blocking=False)
    group._abandon(queued[2])  # and if nobody waits any more, there is one leader fewer
    assert group._active == 0 and group.run([4]) == [40]
