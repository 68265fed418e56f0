"""The local backend: same shell contract, no isolation, and it says so."""

from __future__ import annotations

from rgym.sandbox import WORKSPACE, EpisodeSandbox, LaunchSpec, Mount, get_backend


def test_local_backend_shell_contract(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    (data / "f.txt").write_text("visible")
    backend = get_backend("local")
    assert backend.isolated is False
    sb = EpisodeSandbox(
        backend,
        LaunchSpec(argv=[], mounts=[Mount(ws, WORKSPACE, True), Mount(data, f"{WORKSPACE}/data")]),
    )
    try:
        assert sb.exec("cat data/f.txt").output == "visible"
        sb.exec("cd data && export X=1")
        assert sb.exec("echo $X; basename $PWD").output.split() == ["1", "data"]
        r = sb.exec("sleep 5", timeout=0.5)
        assert r.timed_out
        assert sb.limits_in_force["isolation"] == "none"
    finally:
        sb.close()
