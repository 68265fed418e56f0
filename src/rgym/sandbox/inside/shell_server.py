"""Runs inside the sandbox for a whole episode and executes one command per request.

Standard library only: it runs under the agent's interpreter, which has no rgym installed.
Protocol: one JSON object per line on stdin ({"command", "timeout", "cap"}); one JSON reply per line
on the protocol fd ({"output", "exit_code", "timed_out", "truncated", "seconds"}).

Each command runs in `bash` in its own process group (so a timeout kills the command and all its
children, and the episode goes on); its output goes to a file, not a pipe, so a background job
(`python train.py &`) outlives the command that started it without blocking the reply. The working
directory and exported variables are saved on exit and restored before the next command.

The agent's processes run as the same uid as this server, so under bubblewrap it protects itself
by other means: it is the pid namespace's init (the kernel drops every signal sent to it from
inside the namespace unless it handles that signal, and it handles none), it is not dumpable (no
ptrace, no /proc/1/fd or /proc/1/mem for the agent), each command's output is an unnamed file it
holds by fd (no name the agent could swap for a link or a fifo), the protocol fds are never
inherited, and each command starts with the OOM killer's preference (oom_score_adj 1000). As init
it also reaps orphaned processes, without taking the running command's exit status.
Under the local backend none of this holds.
"""

import json
import os
import select
import signal
import subprocess
import time

STATE = os.environ.get("RGYM_STATE_DIR", "/tmp/.rgym")
PRELUDE = """echo 1000 > /proc/self/oom_score_adj 2>/dev/null
__rgym_save() {{ pwd > {state}/cwd; export -p > {state}/env; }}
trap __rgym_save EXIT
[ -f {state}/env ] && . {state}/env >/dev/null 2>&1
cd "$(cat {state}/cwd 2>/dev/null || echo "$HOME")" 2>/dev/null
"""
REAP_EVERY = 1.0
"""Seconds between reaps of orphaned zombies when no SIGCHLD woke us (a safety net)."""
OLD_OUTPUT_KEEP = 1 << 20
"""An earlier command's output file is emptied past this size while its background jobs still
write to it (nobody reads it any more)."""

_dir_fd = -1
_wake_fd = -1  # readable after a SIGCHLD: an orphan to reap
_old_outputs = []  # (pgid, fd) of earlier commands whose background jobs may still write


def non_dumpable():
    """prctl(PR_SET_DUMPABLE, 0): a process of the same uid can no longer ptrace this one or
    open its /proc files (fds, memory). `_ctypes` alone: `ctypes` costs milliseconds to import."""
    try:
        from _ctypes import FUNCFLAG_CDECL, CFuncPtr, _SimpleCData, dlopen

        class CInt(_SimpleCData):
            _type_ = "i"

        class Prctl(CFuncPtr):
            _flags_ = FUNCFLAG_CDECL
            _restype_ = CInt

        class Libc:
            _handle = dlopen(None)

        return Prctl(("prctl", Libc))(4, 0, 0, 0, 0) == 0  # PR_SET_DUMPABLE
    except Exception:
        return False


def new_output():
    """An unnamed file for one command's output, opened for appending: nothing in the sandbox
    can reach it by name, and it is read back through this fd."""
    flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC
    try:
        return os.open(".", flags | os.O_TMPFILE, 0o600, dir_fd=_dir_fd)
    except OSError:
        name = f".out-{os.getpid()}-{time.monotonic_ns()}"
        fd = os.open(name, flags | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=_dir_fd)
        os.unlink(name, dir_fd=_dir_fd)
        return fd


def read_capped(fd, cap):
    size = os.fstat(fd).st_size
    if size <= cap:
        return os.pread(fd, size, 0).decode("utf-8", "replace"), False
    half = cap // 2
    head = os.pread(fd, half, 0)
    tail = os.pread(fd, half, size - half)
    note = f"\n[... {size - 2 * half} bytes of output cut; showing the first and last {half} ...]\n"
    return head.decode("utf-8", "replace") + note + tail.decode("utf-8", "replace"), True


def tidy_old_outputs():
    """Close output files whose command's process group is gone; empty the others when big."""
    keep = []
    for pgid, fd in _old_outputs:
        try:
            os.killpg(pgid, 0)
        except OSError:
            os.close(fd)
            continue
        try:
            if os.fstat(fd).st_blocks * 512 > OLD_OUTPUT_KEEP:
                os.ftruncate(fd, 0)
        except OSError:
            pass
        keep.append((pgid, fd))
    _old_outputs[:] = keep


def reap(keep=None):
    """Collect exited children other than `keep` (the running command, whose status its Popen
    collects). As pid 1, every orphan in the sandbox becomes our child; unreaped, each would
    hold a pid until the episode ends. WNOWAIT peeks without taking the status."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid == keep or info.si_pid == 0:
            return
        try:
            os.waitpid(info.si_pid, os.WNOHANG)
        except ChildProcessError:
            pass


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
    reap()


def drain_wake():
    try:
        while os.read(_wake_fd, 512):
            pass
    except OSError:
        pass


def wait_for(proc, timeout):
    """Wait for the command (reaping orphans meanwhile); its exit code, or None on timeout."""
    deadline = None if not timeout else time.monotonic() + timeout
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return proc.poll()
            step = REAP_EVERY if left is None else min(REAP_EVERY, left)
            if pidfd is not None:
                select.select([pidfd, _wake_fd], [], [], step)
                drain_wake()
            else:
                try:
                    proc.wait(timeout=step)
                except subprocess.TimeoutExpired:
                    pass
            reap(keep=proc.pid)
            code = proc.poll()
            if code is not None:
                return code
    finally:
        if pidfd is not None:
            os.close(pidfd)


def run(req, n):
    script = PRELUDE.format(state=STATE) + req["command"] + "\n"
    start = time.monotonic()
    notes = []
    tidy_old_outputs()
    out = new_output()
    try:
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
        code = wait_for(proc, req.get("timeout"))
        if code is None:
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
        reap()
        seconds = time.monotonic() - start
        output, truncated = read_capped(out, int(req.get("cap", 100_000)))
    except BaseException:
        os.close(out)
        raise
    _old_outputs.append((proc.pid, out))
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


def requests(fd):
    """Request lines from the host, reaping orphans while idle."""
    buf = b""
    while True:
        nl = buf.find(b"\n")
        if nl >= 0:
            line, buf = buf[:nl], buf[nl + 1 :]
            yield line
            continue
        ready, _, _ = select.select([fd, _wake_fd], [], [], REAP_EVERY)
        if fd not in ready:
            drain_wake()
            reap()
            tidy_old_outputs()
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return
        buf += chunk


def main():
    global _dir_fd, _wake_fd
    # Python's SIGINT handler is the only one it installs; as init, unhandled signals from
    # the agent's processes are dropped by the kernel, handled ones would not be
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # SIGCHLD (the one signal handled; sent by the agent it only causes a reap) wakes the
    # loops below through a pipe, so orphans are reaped as they exit
    _wake_fd, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    hardened = non_dumpable()
    os.makedirs(STATE, mode=0o700, exist_ok=True)
    _dir_fd = os.open(STATE, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    if os.environ.get("RGYM_TOOL_PATH"):
        os.environ["PATH"] = os.environ["RGYM_TOOL_PATH"] + ":" + os.environ.get("PATH", "")
    if "RGYM_START_DIR" in os.environ:
        fd = os.open(
            "cwd", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600, dir_fd=_dir_fd
        )
        with os.fdopen(fd, "w") as f:
            f.write(os.environ["RGYM_START_DIR"])
    proto = os.fdopen(os.dup(1), "w", buffering=1)  # os.dup: not inheritable by commands
    os.dup2(2, 1)
    shell = "pid 1, not dumpable" if os.getpid() == 1 and hardened else "unprotected"
    proto.write(json.dumps({"ready": True, "shell": shell}) + "\n")
    for n, line in enumerate(requests(0)):
        try:
            req = json.loads(line)
            reply = run(req, n)
        except Exception as e:  # a broken request must not end the episode
            reply = {
                "output": f"rgym shell error: {type(e).__name__}: {e}",
                "exit_code": 127,
                "timed_out": False,
                "truncated": False,
                "seconds": 0.0,
            }
        proto.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
