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


def kill_group(pgid):
    """SIGKILL the group until it is empty: a fork loop can add members while we kill."""
    for _ in range(200):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.005)


def group_size(pgid):
    n = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                n += 1
    return n


def kill_all_but_me():
    """Last resort when the process limit is exhausted: end every other process in the sandbox."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (1, me, os.getppid()):
            try:
                os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


def run(req, n):
    out_path = f"{STATE}/out.{n}"
    script = PRELUDE.format(state=STATE) + req["command"] + "\n"
    start = time.monotonic()
    notes = []
    with open(out_path, "wb") as out:
        for attempt in range(2):
            try:
                proc = subprocess.Popen(
                    ["bash", "-c", script],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                break
            except BlockingIOError:
                if attempt:
                    raise
                kill_all_but_me()
                time.sleep(0.2)
                notes.append(
                    "[the sandbox's process limit was exhausted: every background "
                    "process was killed]"
                )
    timed_out = False
    try:
        code = proc.wait(timeout=req.get("timeout") or None)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(proc.pid)
        code = proc.wait()
    limit = int(os.environ.get("RGYM_PIDS_LIMIT") or 0)
    if not timed_out and limit and group_size(proc.pid) >= limit // 2:
        kill_group(proc.pid)
        notes.append(
            f"[this command left more than {limit // 2} background processes "
            f"(the sandbox allows {limit}); they were killed]"
        )
    seconds = time.monotonic() - start
    output, truncated = read_capped(out_path, int(req.get("cap", 100_000)))
    os.unlink(out_path)
    if timed_out:
        output += f"\n[command timed out after {req['timeout']:g} s and was killed]\n"
    for note in notes:
        output = f"{note}\n{output}"
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
