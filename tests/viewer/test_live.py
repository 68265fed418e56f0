"""Server-sent events from a real server: a run's new events, its end, and new runs."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

from rgym.runs.record import RunRecord
from tests.viewer.conftest import write_rgym_run


class Stream:
    """A server-sent-event stream read line by line, with a deadline per message."""

    def __init__(self, url: str, path: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        self.conn.request("GET", path)
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("content-type").startswith("text/event-stream")

    def next(self) -> dict[str, str]:
        """The next message's fields (comments and the retry line skipped)."""
        fields: dict[str, str] = {}
        while True:
            line = self.response.readline().decode().rstrip("\n")
            if not line:
                if fields.get("data") is not None or fields.get("event"):
                    return fields
                continue
            if line.startswith(":") or line.startswith("retry:"):
                continue
            key, _, value = line.partition(": ")
            fields[key] = value

    def close(self) -> None:
        self.conn.close()


def new_record(root: Path, name: str) -> RunRecord:
    record = RunRecord(root / name)
    record.write_manifest({"task": "titanic", "model": "fake", "seed": 0})
    record.event("reset", seed=0)
    return record


def test_a_runs_new_events_stream_in_order_then_its_end(tmp_path, serve):
    record = new_record(tmp_path, "live")
    viewer = serve(tmp_path)
    stream = Stream(viewer.url, "/live/run/live?after=1")
    try:
        start = time.monotonic()
        record.event("action", step=1, action="ls")
        message = stream.next()
        assert time.monotonic() - start < 2.0
        data = json.loads(message["data"])
        assert message["id"] == "2" and data["view"]["label"] == "action"
        assert data["view"]["texts"][0]["full"] == "ls" and data["facts"]["step"] == 1
        record.write_result({"exit_status": "submitted"})
        record.close()
        assert stream.next() == {"event": "finished", "data": "{}"}
    finally:
        stream.close()


def test_a_reconnect_resumes_after_the_last_event_it_saw(tmp_path, serve):
    record = new_record(tmp_path, "live")
    for step in (1, 2, 3):
        record.event("action", step=step, action=f"echo {step}")
    viewer = serve(tmp_path)
    parts = urlsplit(viewer.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("GET", "/live/run/live?after=1", headers={"Last-Event-ID": "3"})
    stream = Stream.__new__(Stream)
    stream.conn, stream.response = conn, conn.getresponse()
    try:  # seq 2..4 are "echo 1".."echo 3"; the browser saw up to 3, the page up to 1
        record.event("action", step=4, action="echo 4")
        assert [stream.next()["id"] for _ in range(2)] == ["4", "5"]
    finally:
        stream.close()
        record.close()


def test_the_runs_page_hears_of_a_new_run(tmp_path, serve):
    write_rgym_run(tmp_path, "first")
    viewer = serve(tmp_path)
    html = http.client.HTTPConnection(urlsplit(viewer.url).hostname, urlsplit(viewer.url).port)
    html.request("GET", "/")
    signature = html.getresponse().read().decode().split('data-signature="')[1].split('"')[0]
    html.close()
    stream = Stream(viewer.url, f"/live/runs?since={signature}")
    try:
        write_rgym_run(tmp_path, "second", finished=False)
        message = stream.next()
        assert message["event"] == "changed" and json.loads(message["data"])["signature"]
    finally:
        stream.close()
