"""Runs inside the sandbox for a whole episode and executes one command per request.

Standard library only: it runs under the agent's interpreter, which has no rgym installed.
Protocol: one JSON object per line on stdin ({"command", "timeout", "cap"}); one JSON reply per line
on the protocol fd ({"output", "exit_code", "timed_out", "truncated", "seconds"}).

Each command runs in `bash` in its own process group (so a timeout kills the command and all its
children, and the episode goes on); its output goes to a file, not a pipe, so a background job
(`python train.py &`) outlives the command that started it without blocking the reply. The working
directory and exported variables are saved on exit and restored before the next command.
"""

import json
import os
import signal
import subprocess
import sys
import time

STATE = os.environ.get("RGYM_STATE_DIR", "/tmp/.rgym")
PRELUDE = """
__rgym_save() {{ pwd > {state}/cwd; export -p > {state}/env; }}
trap __rgym_save EXIT
[ -f {state}/env ] && . {state}/env >/dev/null 2>&1
cd "$(cat {state}/cwd 2>/dev/null || echo "$HOME")" 2>/dev/null
"""


def read_capped(path, cap):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if size <= cap:
            return f.read().decode("utf-8", "replace"), False
        half = cap // 2
        head = f.read(half)
        f.seek(size - half)
        tail = f.read(half)
    note = f"\n[... {size - 2 * half} bytes of output cut; showing the first and last {half} ...]\n"
    return head.decode("utf-8", "replace") + note + tail.decode("utf-8", "replace"), True


def run(req, n):
    out_path = f"{STATE}/out.{n}"
    script = PRELUDE.format(state=STATE) + req["command"] + "\n"
    start = time.monotonic()
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(
            ["bash", "-c", script],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    timed_out = False
    try:
        code = proc.wait(timeout=req.get("timeout") or None)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        code = proc.wait()
    seconds = time.monotonic() - start
    output, truncated = read_capped(out_path, int(req.get("cap", 100_000)))
    os.unlink(out_path)
    if timed_out:
        output += f"\n[command timed out after {req['timeout']:g} s and was killed]\n"
    return {
        "output": output,
        "exit_code": code,
        "timed_out": timed_out,
        "truncated": truncated,
        "seconds": seconds,
    }


def main():
    os.makedirs(STATE, exist_ok=True)
    if os.environ.get("RGYM_TOOL_PATH"):
        os.environ["PATH"] = os.environ["RGYM_TOOL_PATH"] + ":" + os.environ.get("PATH", "")
    if "RGYM_START_DIR" in os.environ:
        with open(f"{STATE}/cwd", "w") as f:
            f.write(os.environ["RGYM_START_DIR"])
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    proto.write(json.dumps({"ready": True}) + "\n")
    for n, line in enumerate(sys.stdin):
        req = json.loads(line)
        try:
            reply = run(req, n)
        except Exception as e:  # a broken request must not end the episode
            reply = {
                "output": f"rgym shell error: {e}",
                "exit_code": 127,
                "timed_out": False,
                "truncated": False,
                "seconds": 0.0,
            }
        proto.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
