"""Run content is hostile input: every string is escaped, no path leaves the served runs, and
the server's headers keep scripts to its own files. Path tests go through a real uvicorn server
with a client that sends the path as written (httpx would normalise ``..`` away)."""

from __future__ import annotations

import http.client
import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from rgym.viewer.app import create_app
from rgym.viewer.export import export
from rgym.viewer.site import Site
from tests.viewer.conftest import XSS, cell, write_batch, write_mlgym_run, write_rgym_run

PAYLOAD = " ".join(XSS)
ESCAPED = "&lt;script&gt;window.__xss=1&lt;/script&gt;"


def hostile_runs(root: Path) -> Path:
    """Payloads in every run-supplied field a page shows."""
    write_rgym_run(
        root / "runs",
        "xss-run",
        task=PAYLOAD,
        model=PAYLOAD,
        thought=PAYLOAD,
        observation=PAYLOAD + "\n" * 60 + PAYLOAD,
        model_calls=True,
        artifact={
            "solution.py": PAYLOAD,
            "<img src=x onerror=window.__xss=4>.csv": f"{XSS[1]},b\n{XSS[0]},2\n",
            "page.html": XSS[0],
        },
        extra_events=[
            ("error", {"kind": XSS[2], "message": PAYLOAD}),
            ("note", {"message": PAYLOAD}),
            (XSS[1], {"odd": PAYLOAD}),
        ],
    )
    write_rgym_run(root / "runs", "plain", artifact={"solution.py": "print(1)\n"})
    batch = write_batch(root, XSS[2], [cell("b0"), cell(XSS[0])])
    write_rgym_run(batch / "runs", "b0")
    write_mlgym_run(root / "mlgym", thought=PAYLOAD, observation=PAYLOAD)
    return root


def assert_inert(html: str) -> None:
    for payload in XSS:
        assert payload not in html
    assert re.search(r"<(img|svg)\b", html) is None  # the pages have none of their own
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert ' src="' in tag or 'type="application/json"' in tag, tag
    for body in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S):
        assert "<" not in body  # JSON data cannot close its script element


@pytest.fixture
def hostile(tmp_path) -> Path:
    return hostile_runs(tmp_path / "served")


def test_payloads_come_out_escaped_on_every_page(hostile):
    c = TestClient(create_app(Site([hostile])))
    runs = c.get("/").text
    assert_inert(runs)
    assert ESCAPED in runs and "batch &#34;&gt;&lt;svg onload=window.__xss=3&gt;" in runs
    run = c.get("/run/xss-run").text
    assert_inert(run)
    assert run.count(ESCAPED) >= 6  # task, model, discussion, observation, error, note, reply...
    assert "&lt;img src=x onerror=window.__xss=4&gt;.csv" in run  # a file name
    mlgym = next(i for i in c.get("/api/runs.json").json()["runs"] if i["kind"] == "mlgym")
    assert_inert(c.get(f"/run/{mlgym['id']}").text)
    assert_inert(c.get("/compare?a=xss-run&b=plain").text)
    board = c.get("/leaderboard").text
    assert_inert(board)
    assert ESCAPED in board


def test_plot_labels_from_runs_are_escaped_for_plotly(hostile):
    html = TestClient(create_app(Site([hostile]))).get("/leaderboard").text
    figure = json.loads(re.search(r'id="fig-profiles">(.*?)</script>', html, re.S).group(1))
    names = [t["name"] for t in figure["data"]]
    assert any("&lt;script&gt;" in n for n in names) and not any("<script" in n for n in names)


def test_the_static_export_is_escaped_too(hostile, tmp_path):
    out = tmp_path / "site"
    export(Site([hostile]), out)
    for page in [out / "index.html", out / "leaderboard.html", *(out / "run").glob("*.html")]:
        assert_inert(page.read_text())


def test_headers_forbid_inline_script_and_sniffing(hostile):
    c = TestClient(create_app(Site([hostile])))
    page = c.get("/run/xss-run")
    csp = page.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]*)", csp).group(1)
    assert script_src == "'self'" and "unsafe" not in script_src
    assert "frame-ancestors 'none'" in csp and page.headers["x-content-type-options"] == "nosniff"
    assert '<meta http-equiv="Content-Security-Policy"' in page.text
    raw = c.get("/run/xss-run/raw/artifact/page.html")  # an HTML artefact is text, sandboxed
    assert raw.headers["content-type"] == "text/plain; charset=utf-8"
    assert raw.headers["content-security-policy"].startswith("sandbox")
    assert raw.text == XSS[0]


def get_raw(url: str, path: str, host: str | None = None) -> int:
    """Status of GET ``path`` exactly as written (no client-side normalisation)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=host is not None)
        if host is not None:
            conn.putheader("Host", host)
        conn.endheaders()
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_paths_cannot_leave_the_served_runs(hostile, tmp_path, serve):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    run = hostile / "runs" / "plain"
    os.symlink(secret, run / "artifact" / "link.txt")
    os.symlink(tmp_path, run / "artifact" / "up")
    viewer = serve(hostile)
    refused = [
        "/run/../../etc/passwd",
        "/run/..%2F..%2Fetc%2Fpasswd",
        "/run/%2e%2e/%2e%2e/etc/passwd",
        f"/run/{secret}",
        "/run/plain/raw/../../../secret.txt",
        "/run/plain/raw/..%2F..%2F..%2Fsecret.txt",
        "/run/plain/raw/artifact/../../../secret.txt",
        "/run/plain/raw/artifact/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        f"/run/plain/raw/{secret}",
        f"/run/plain/raw/artifact/{secret}",
        "/run/plain/raw/artifact//etc/passwd",
        "/run/plain/raw/artifact/link.txt",
        "/run/plain/raw/artifact/up/secret.txt",
        "/run/plain/raw/artifact/solution.py%00.txt",
        "/static/../../../etc/passwd",
        "/static/..%2F..%2Fsite.py",
        "/api/run/..%2F..%2Fetc.json",
    ]
    for path in refused:
        assert get_raw(viewer.url, path) == 404, path
    assert get_raw(viewer.url, "/run/plain/raw/artifact/solution.py") == 200
    html = TestClient(create_app(Site([hostile]))).get("/run/plain").text
    assert "link (not followed)" in html and "top secret" not in html


def test_a_run_whose_files_are_links_shows_nothing_from_outside(tmp_path):
    secret = tmp_path / "secret.jsonl"
    secret.write_text(json.dumps({"type": "note", "seq": 1, "message": "top secret"}) + "\n")
    run = write_rgym_run(tmp_path / "served", "linked")
    (run / "events.jsonl").unlink()
    os.symlink(secret, run / "events.jsonl")
    (run / "result.json").unlink()
    os.symlink(secret, run / "result.json")
    html = TestClient(create_app(Site([tmp_path / "served"]))).get("/run/linked").text
    assert "top secret" not in html


def test_a_loopback_server_refuses_other_host_names(tmp_path, serve):
    write_rgym_run(tmp_path, "plain")
    viewer = serve(tmp_path)
    assert get_raw(viewer.url, "/", host="evil.example") == 400  # DNS rebinding
    assert get_raw(viewer.url, "/", host=urlsplit(viewer.url).netloc) == 200
