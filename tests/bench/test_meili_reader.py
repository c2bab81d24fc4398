"""The index-lag probe's reading of Meilisearch's tasks: the slowest one explained by its batch."""

from __future__ import annotations

from typing import Any

import httpx

from bench.client import MeiliReader, _milliseconds, _own_times


def test_progress_trace_durations_in_milliseconds() -> None:
    assert _milliseconds("1.20s") == 1200
    assert _milliseconds("14.20ms") == 14.2
    assert _milliseconds("850.00µs") == 0.85
    assert _milliseconds("soon") is None


def _reader(tasks: list[dict[str, Any]], batches: dict[int, dict[str, Any]]) -> MeiliReader:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/tasks":
            assert request.url.params["types"] == "documentAdditionOrUpdate"
            return httpx.Response(200, json={"results": tasks})
        batch = int(request.url.path.rsplit("/", 1)[1])
        return httpx.Response(200, json=batches[batch]) if batch in batches else httpx.Response(404, json={})

    reader = MeiliReader("http://meili.test", "key", "docs")
    reader.http = httpx.Client(base_url="http://meili.test", transport=httpx.MockTransport(answer))
    return reader


def test_the_slowest_task_is_split_into_waiting_and_running_with_its_batch_longest_steps() -> None:
    tasks = [
        {"uid": 7, "batchUid": 3, "enqueuedAt": "2026-11-28T03:16:41.000000000Z",
         "startedAt": "2026-11-28T03:16:42.900000000Z", "finishedAt": "2026-11-28T03:16:43.100000000Z"},
        {"uid": 8, "batchUid": 4, "enqueuedAt": "2026-11-28T03:16:44.000000000Z",
         "startedAt": "2026-11-28T03:16:44.010000000Z", "finishedAt": "2026-11-28T03:16:44.110000000Z"},
    ]
    trace = {"processing tasks": "190.00ms", "processing tasks > indexing": "180.00ms",
             "processing tasks > indexing > post processing words": "120.00ms",
             "processing tasks > indexing > committing": "40.00ms",
             "processing tasks > indexing > word fst": "900.00µs"}
    reader = _reader(tasks, {3: {"uid": 3, "stats": {"totalNbTasks": 2, "types": {"documentAdditionOrUpdate": 2},
                                                      "progressTrace": trace}}})
    slowest = reader.slowest_task("documentAdditionOrUpdate", 50, steps=2)
    assert slowest is not None
    assert slowest["task"] == 7 and slowest["waited_ms"] == 1900 and slowest["ran_ms"] == 200
    assert slowest["batch"] == 3 and slowest["batch_tasks"] == 2
    # by their own time, longest first: a parent step holds its sub-steps' time, and keeps what they do not explain
    assert slowest["longest_steps_ms"] == {"processing tasks > indexing > post processing words": 120,
                                           "processing tasks > indexing > committing": 40}


def test_a_parent_step_keeps_the_time_its_sub_steps_do_not_explain() -> None:
    trace = {"processing tasks": "1.95s", "processing tasks > indexing": "1.94s",
             "processing tasks > indexing > post processing words": "1.92s",
             "processing tasks > indexing > post processing words > word fst": "17.57ms",
             "processing tasks > indexing > finalizing": "2.00ms"}
    assert _own_times(trace, 3) == {"processing tasks > indexing > post processing words": 1902.43,
                                    "processing tasks > indexing": 18,
                                    "processing tasks > indexing > post processing words > word fst": 17.57}


def test_no_finished_task_and_a_batch_that_is_gone() -> None:
    assert _reader([], {}).slowest_task("documentAdditionOrUpdate", 50) is None
    only = [{"uid": 1, "batchUid": 9, "enqueuedAt": "2026-11-28T03:00:00Z", "startedAt": "2026-11-28T03:00:00Z",
             "finishedAt": "2026-11-28T03:00:01Z"}]
    slowest = _reader(only, {}).slowest_task("documentAdditionOrUpdate", 50)
    assert slowest == {"task": 1, "enqueued_at": "2026-11-28T03:00:00Z", "waited_ms": 0.0, "ran_ms": 1000.0}


def test_unfinished_tasks_counts_the_enqueued_and_the_running() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.params["statuses"] == "enqueued,processing"
        return httpx.Response(200, json={"results": [{"uid": 3}], "total": 4})

    reader = MeiliReader("http://meili.test", "key", "docs")
    reader.http = httpx.Client(base_url="http://meili.test", transport=httpx.MockTransport(answer))
    assert reader.unfinished_tasks() == 4
