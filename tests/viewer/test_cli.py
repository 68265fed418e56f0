"""`rgym view` as a command: help, export, serving, and the errors it names. Serving runs the
real CLI in a process (it is stopped with Ctrl-C); the rest call the typer app in-process."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.request

import pytest
from typer.testing import CliRunner

from rgym.cli import app
from tests.viewer.conftest import write_rgym_run

RGYM = [sys.executable, "-m", "rgym.cli"]
cli = CliRunner()


def test_help_names_every_option_with_examples():
    out = cli.invoke(app, ["view", "--help"], env={"COLUMNS": "200"}).output
    for option in ("--port", "--host", "--export", "--open", "--no-open"):
        assert option in out
    assert "rgym view runs/ --export site/" in out and "Examples" in out


def test_a_missing_folder_is_a_clear_error(tmp_path):
    done = cli.invoke(app, ["view", str(tmp_path / "nope")])
    assert done.exit_code == 2 and "does not exist or is not a folder" in done.output


def test_export_writes_a_bundle_and_says_where(tmp_path):
    write_rgym_run(tmp_path / "runs", "one")
    done = cli.invoke(app, ["view", str(tmp_path / "runs"), "--export", str(tmp_path / "s")])
    assert done.exit_code == 0, done.output
    assert "wrote 1 runs" in done.output and (tmp_path / "s" / "index.html").as_uri() in done.output
    assert (tmp_path / "s" / "run" / "one.html").exists()


def test_serve_prints_its_url_serves_and_stops_on_ctrl_c(tmp_path):
    write_rgym_run(tmp_path, "one")
    proc = subprocess.Popen(
        [*RGYM, "view", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "rgym view: 1 runs from" in line and "http://127.0.0.1:" in line
        url = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200 and b"one" in response.read()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_port_in_use_is_a_clear_error(tmp_path):
    write_rgym_run(tmp_path, "one")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli.invoke(app, ["view", str(tmp_path), "--port", str(port)])
    assert done.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.output and "--port" in done.output


def test_a_non_loopback_host_prints_a_warning(tmp_path):
    write_rgym_run(tmp_path, "plain")
    # 192.0.2.1 (TEST-NET) is not this machine's: the warning comes, then binding fails
    done = cli.invoke(app, ["view", str(tmp_path), "--host", "192.0.2.1"])
    assert "WARNING" in done.output and "not loopback" in done.output
    assert done.exit_code == 2 and "cannot listen on 192.0.2.1:8765" in done.output


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_hosts_print_no_warning(host):
    from rgym.viewer.server import allowed_hosts, is_loopback

    assert is_loopback(host)
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    assert allowed_hosts("0.0.0.0") is None and "127.0.0.1" in allowed_hosts("127.0.0.1")
