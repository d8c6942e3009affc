"""WriteBehind: one write in flight on its own thread, results and failures back on the caller's."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from connectors.write_behind import WriteBehind


def test_a_write_runs_on_another_thread_and_its_result_comes_back_with_the_next_submit():
    writer: WriteBehind[str] = WriteBehind()
    caller = threading.current_thread()
    ran_on: list[threading.Thread] = []

    def write(name: str) -> Callable[[], str]:
        def run() -> str:
            ran_on.append(threading.current_thread())
            return name

        return run

    assert writer.submit(write("first")) is None
    assert writer.submit(write("second")) == "first"
    assert writer.wait() == "second"
    assert writer.wait() is None
    assert len(ran_on) == 2
    assert all(thread is not caller for thread in ran_on)
    writer.close()


def test_at_most_one_write_is_in_flight():
    writer: WriteBehind[int] = WriteBehind()
    release = threading.Event()
    started = threading.Event()
    order: list[str] = []

    def slow() -> int:
        started.set()
        release.wait(5)
        order.append("slow done")
        return 1

    writer.submit(slow)
    assert started.wait(5)

    def next_write() -> int:
        order.append("next")
        return 2

    submitter = threading.Thread(target=writer.submit, args=(next_write,))
    submitter.start()
    submitter.join(0.2)
    assert submitter.is_alive(), "the second submit must wait for the write in flight"
    release.set()
    submitter.join(5)
    assert writer.wait() == 2
    assert order == ["slow done", "next"]
    writer.close()


def test_a_failed_write_raises_in_the_caller_and_forget_leaves_a_clean_writer():
    writer: WriteBehind[int] = WriteBehind()

    def broken() -> int:
        raise OSError("disk full")

    writer.submit(broken)
    with pytest.raises(OSError, match="disk full"):
        writer.wait()
    writer.submit(broken)
    writer.forget()  # a retried bundle starts clean: the failure was reported by the first attempt
    assert writer.submit(lambda: 3) is None
    assert writer.wait() == 3
    writer.close()
