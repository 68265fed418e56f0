"""Attack: a background process in the sandbox swaps the artefact with symbolic links
(renameat2 RENAME_EXCHANGE in a tight loop) while the host checks and reads it. Before the fix,
the host checked `is_symlink()` and then opened the name, so `validate` quoted the first line of
a root-only file and the rgym process's /proc/self/environ back to the agent, into events.jsonl
and result.json, and the run record copied the linked file."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from tests.conftest import requires_bwrap

pytestmark = requires_bwrap

SWAP = textwrap.dedent(
    """\
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD, RENAME_EXCHANGE, SYS_renameat2 = -100, 2, 316
    def exchange(a, b):
        if hasattr(libc, "renameat2"):
            return libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
        return libc.syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
    n = 0
    while True:
        for link in (b"link_file", b"link_environ"):
            if exchange(b"submission.csv", link) == 0:
                n += 1
            exchange(b"submission.csv", link)
        if n % 2000 == 0:
            with open("swaps.txt", "w") as f:
                f.write(str(n))
    """
)


def _run_in_child(tmp_path: Path, actions: list[str], env_canary: str, validations: int) -> dict:
    """Run the episode in a fresh process whose environment (so /proc/self/environ) holds the
    canary, exactly as a real `rgym run` would."""
    actions_file = tmp_path / "actions.yaml"
    actions_file.write_text(yaml.safe_dump(actions))
    code = textwrap.dedent(
        f"""
        import json, sys
        from rgym.budget import Budget
        from rgym.runs.runner import RunConfig, run
        r = run(RunConfig(task="titanic", agent="replay", actions={str(actions_file)!r},
                          runs_dir={str(tmp_path / "runs")!r},
                          budget=Budget(max_steps={validations + 20},
                                        max_validations={validations})))
        print("RESULT " + r.model_dump_json())
        """
    )
    env = {**os.environ, "RGYM_CANARY_ENV": env_canary}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :]) | {"_stdout": proc.stdout, "_stderr": proc.stderr}


def test_symlink_swap_race_reads_no_host_file(tmp_path):
    file_canary = "CANARYFILE" + secrets.token_hex(12)
    env_canary = "CANARYENV" + secrets.token_hex(12)
    secret = tmp_path / "root-only.txt"
    # one line, commas included, so a header check would quote it back if it read it
    secret.write_text(f"{file_canary},{file_canary},{file_canary}\n")
    secret.chmod(0o600)
    validations = 55
    actions = [
        "python baseline.py",
        f"cat > swap.py <<'PY'\n{SWAP}PY",
        f"ln -s {secret} link_file && ln -s /proc/self/environ link_environ && ls -l",
        "nohup python swap.py > /dev/null 2>&1 &",
        "sleep 1; cat swaps.txt",
        *["validate"] * validations,
        "cat swaps.txt",
        "submit",
    ]
    result = _run_in_child(tmp_path, actions, env_canary, validations)
    run_dir = Path(result["run_dir"])
    events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
    evaluations = [e for e in events if e["type"] == "evaluation"]
    observations = [e["observation"] for e in events if e["type"] == "observation"]

    # the attack really ran: the loop was swapping, and the host met the links mid-run
    assert int(observations[-1].strip().splitlines()[0]) > 0, observations[-1]
    assert len(evaluations) == validations + 1
    assert any(e["status"] == "invalid_artifact" for e in evaluations), evaluations[:3]

    everything = [result["_stdout"], result["_stderr"], json.dumps(result)]
    for path in sorted(run_dir.rglob("*")):
        if path.is_file() and not path.is_symlink():
            everything.append(path.read_bytes().decode("utf-8", "replace"))
    blob = "\n".join(everything)
    assert file_canary not in blob
    assert env_canary not in blob
    # the run record holds plain files only (never a link, never the linked file)
    for path in (run_dir / "artifact").rglob("*") if (run_dir / "artifact").exists() else []:
        assert not path.is_symlink()
