"""Attack: end or hijack the sandbox's shell server from the agent's own commands.

Before the fix the server was an ordinary process of the agent's uid: `kill -9 2` ended the
episode as infra_error with no grading, ptrace or /proc/2/fd let the agent write replies into the
host's command channel, and a non-UTF-8 reply raised UnicodeDecodeError out of env.step. Now the
server is the pid namespace's init and not dumpable, its output files have no name, every reply
is read bounded and decoded with replacement, and a dead sandbox says whose doing it was.
"""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time

import pytest

from rgym.errors import SandboxProtocolError, SandboxUnavailable
from rgym.sandbox import WORKSPACE, EpisodeSandbox, LaunchSpec, Mount, SandboxLimits, get_backend
from rgym.sandbox.local import LocalBackend
from tests.conftest import agent_workspace, bwrap_sandbox, requires_bwrap


@pytest.fixture
def workspace(tmp_path):
    return agent_workspace(tmp_path / "ws")


@pytest.fixture
def sandbox(workspace):
    sb = bwrap_sandbox(workspace)
    yield sb
    sb.close()


@requires_bwrap
def test_the_agent_cannot_signal_the_shell(sandbox):
    assert "shell_server.py" in sandbox.exec("cat /proc/1/cmdline").output
    for sig in ("KILL", "STOP", "TERM", "INT", "HUP", "SEGV", "USR1", "QUIT", "ABRT"):
        sandbox.exec(
            f"kill -{sig} 1; for p in /proc/[0-9]*; do p=${{p#/proc/}}; "
            f'[ "$p" != $$ ] && kill -{sig} $p; done; true',
            timeout=10,
        )
        r = sandbox.exec("echo alive")
        assert r.output == "alive\n", sig
    # every process the agent can reach, in one go
    sandbox.exec("kill -9 -1")
    assert sandbox.exec("echo still alive").output == "still alive\n"
    assert sandbox.limits_in_force["shell"] == "pid 1, not dumpable"


@requires_bwrap
def test_the_agent_cannot_trace_or_read_the_shell(sandbox):
    probe = textwrap.dedent(
        """\
        import ctypes, os
        def argv(p):
            return open(f"/proc/{p}/cmdline", "rb").read().split(b"\\0")
        shell = [p for p in os.listdir("/proc") if p.isdigit()
                 and b"python" in argv(p)[0] and b"shell_server.py" in b" ".join(argv(p))]
        assert len(shell) == 1, shell
        pid = int(shell[0])
        libc = ctypes.CDLL(None, use_errno=True)
        attached = libc.ptrace(16, pid, 0, 0)  # PTRACE_ATTACH
        print("attach", attached, ctypes.get_errno())
        if attached == 0:  # let it go again, so the failure is reported, not a hang
            os.waitpid(pid, 0)
            libc.ptrace(17, pid, 0, 0)  # PTRACE_DETACH
        for what in ("mem", "environ", "fd/0", "fd/1"):
            try:
                open(f"/proc/{pid}/{what}", "rb").read(1)
                print("opened", what)
            except OSError as e:
                print("denied", what, e.errno)
        try:
            print("fds", os.listdir(f"/proc/{pid}/fd"))
        except OSError as e:
            print("denied fd list", e.errno)
        """
    )
    sandbox.write_file("probe.py", probe)
    r = sandbox.exec("python probe.py", timeout=20)
    assert "attach -1 1" in r.output  # EPERM
    assert "opened" not in r.output
    assert "fds" not in r.output
    assert r.output.count("denied") == 5


@requires_bwrap
def test_commands_hold_no_channel_of_the_host(sandbox):
    # ls lists the command's shell's fds; no pipeline, whose own pipe bash would hold a moment
    r = sandbox.exec("ls -l /proc/$$/fd > /tmp/fds; tail -n +2 /tmp/fds")
    lines = r.output.splitlines()
    assert all("pipe:" not in ln and "socket:" not in ln for ln in lines), r.output
    assert sorted(ln.split(" -> ")[0].split()[-1] for ln in lines) == ["0", "1", "2"]
    r = sandbox.exec("python -c 'import os; print(sorted(os.listdir(\"/proc/self/fd\")))'")
    assert r.output.strip() == "['0', '1', '2', '3']"  # 3: listdir's own


@requires_bwrap
def test_links_and_fifos_in_the_shell_state_do_not_block_it(sandbox):
    """The old server wrote each output to `<state>/out.<n>` by name: a fifo there hung it."""
    sandbox.exec(
        "d=${RGYM_STATE_DIR:-/tmp/.rgym}; for i in $(seq 0 40); do rm -f $d/out.$i; "
        "mkfifo $d/out.$i; done; ln -sf /dev/zero $d/out.x; for i in $(seq 0 40); do "
        "ln -sf /dev/zero /tmp/.rgym/out.$i 2>/dev/null; done; true",
        timeout=10,
    )
    start = time.monotonic()
    for i in range(3):
        assert sandbox.exec(f"echo {i}", timeout=5).output == f"{i}\n"
    assert time.monotonic() - start < 10


@requires_bwrap
def test_commands_are_the_oom_killers_first_choice(sandbox):
    r = sandbox.exec("cat /proc/self/oom_score_adj; cat /proc/1/oom_score_adj")
    assert r.output.split() == ["1000", "0"]


@requires_bwrap
def test_orphans_are_reaped_and_do_not_use_up_pids(sandbox):
    """The shell is the namespace's init, so every orphan becomes its child: 150 double-forked
    processes in a sandbox of 64 pids leave zombies that block fork unless it reaps them."""
    r = sandbox.exec("for i in $(seq 1 150); do ( true & ) ; done; echo ok", timeout=60)
    assert r.output == "ok\n", r.output  # no "fork: retry: Resource temporarily unavailable"
    r = sandbox.exec("sleep 0.3; ps -eo stat= | grep -c '^Z' || true")
    assert r.output.strip() == "0"
    sandbox.exec("kill -CHLD 1")  # the one signal it handles: only a reap
    assert sandbox.exec("echo alive").output == "alive\n"


@requires_bwrap
def test_a_background_job_printing_forever_does_not_fill_the_shells_disk(sandbox):
    """Output of a job started with `&` keeps going to its command's output file after the
    reply; nobody reads it, so the server empties it instead of letting it grow."""
    sandbox.exec("( for i in $(seq 1 150); do head -c 1M /dev/zero; sleep 0.1; done ) &")
    for _ in range(5):
        time.sleep(1)
        assert sandbox.exec("echo ok").output == "ok\n"
    used = sandbox.exec("df -m --output=used ${RGYM_STATE_DIR:-/tmp} | tail -1").output.strip()
    assert int(used) < 16, used


@requires_bwrap
def test_a_host_kill_is_a_host_fault_with_evidence(sandbox):
    os.kill(sandbox.process.popen.pid, signal.SIGKILL)
    sandbox.process.popen.wait()
    with pytest.raises(SandboxUnavailable) as err:
        sandbox.exec("echo hi")
    assert err.value.cause == "host"
    assert "SIGKILL" in err.value.evidence
    assert sandbox.death_cause() == ("host", err.value.evidence)


@requires_bwrap
def test_memory_exhaustion_that_ends_the_sandbox_is_the_agents(workspace):
    """/dev/shm is memory: with no disk limit, filling it past the memory limit leaves the
    OOM killer nothing but the shell. The env must then grade, not call it infrastructure."""
    sb = bwrap_sandbox(workspace, memory_mb=96)
    try:
        if "memory_mb" not in sb.limits_in_force:
            pytest.skip("no memory limit in force on this host")
        try:
            for _ in range(8):
                sb.exec("head -c 300M /dev/zero > /dev/shm/fill$RANDOM; echo 0", timeout=30)
        except SandboxUnavailable as e:  # the OOM killer took the shell: the agent's doing
            assert e.cause == "agent", e.evidence
            assert "OOM" in e.evidence
            assert sb.death_cause()[0] == "agent"
        else:  # the kernel killed only the agent's commands (they go first): the shell lives on
            assert "alive" in sb.exec("echo alive", timeout=30).output
    finally:
        sb.close()


class RogueShell(LocalBackend):
    """A real process standing in for a compromised shell server: it says it is ready, then
    answers every request with the bytes in `reply`."""

    def __init__(self, tmp_path, reply: bytes):
        self.script = tmp_path / "rogue.py"
        self.script.write_text(
            "import sys\n"
            "out = sys.stdout.buffer\n"
            "out.write(b'{\"ready\": true}\\n'); out.flush()\n"
            "for line in sys.stdin:\n"
            f"    out.write({reply!r}); out.flush()\n"
        )
        self.script.chmod(0o755)

    def popen(self, spec, **kw):
        spec.argv = [sys.executable, str(self.script)]  # in place of the real server
        return super().popen(spec, **kw)


def _rogue(tmp_path, reply: bytes, cap: int = 1000) -> EpisodeSandbox:
    ws = tmp_path / "rws"
    ws.mkdir()
    return EpisodeSandbox(
        RogueShell(tmp_path, reply), LaunchSpec(argv=[], mounts=[Mount(ws, WORKSPACE, True)]), cap
    )


def test_a_non_utf8_reply_is_decoded_with_replacement(tmp_path):
    sb = _rogue(tmp_path, b'{"output": "ok \xff\xfe", "exit_code": 0}\n')
    try:
        r = sb.exec("anything")
        assert r.output == "ok \ufffd\ufffd" and r.exit_code == 0
    finally:
        sb.close()


@pytest.mark.parametrize(
    "reply",
    [b"not json at all\n", b'{"exit_code": "x"}\n', b"[1, 2]\n", b"\xff\xfe\xfd\n"],
    ids=["garbage", "wrong-fields", "wrong-type", "binary"],
)
def test_a_malformed_reply_is_a_typed_error(tmp_path, reply):
    sb = _rogue(tmp_path, reply)
    try:
        with pytest.raises(SandboxProtocolError) as err:
            sb.exec("anything")
        assert isinstance(err.value, SandboxUnavailable) and err.value.cause == "host"
        with pytest.raises(SandboxUnavailable):
            sb.exec("again")  # the channel is not trusted after that
    finally:
        sb.close()


def test_an_endless_reply_is_cut_off_at_the_bound(tmp_path):
    sb = _rogue(tmp_path, b"x" * (1 << 20))  # 1 MiB per request, never a newline
    try:
        start = time.monotonic()
        with pytest.raises(SandboxProtocolError, match="bytes"):
            sb.exec("anything", timeout=5)
        assert time.monotonic() - start < 5
        assert len(sb._buf) <= sb.max_reply + (1 << 20)
    finally:
        sb.close()


def test_reply_bound_follows_the_output_cap(tmp_path):
    sb = _rogue(tmp_path, b"")
    try:
        assert sb.max_reply < 7 * 1000 + 70_000
    finally:
        sb.close()


@requires_bwrap
def test_worst_case_honest_output_fits_the_bound(workspace):
    """Control characters JSON-escape to 6 bytes each: the bound must still admit them."""
    limits = SandboxLimits(memory_mb=512, pids=64)
    sb = EpisodeSandbox(
        get_backend("bwrap"),
        LaunchSpec(argv=[], mounts=[Mount(workspace, WORKSPACE, True)], limits=limits),
        cap=20_000,
    )
    try:
        r = sb.exec("head -c 100000 /dev/zero; head -c 100000 /dev/urandom")
        assert r.truncated and len(r.output) > 19_000
        assert sb.exec("echo fine").output == "fine\n"
    finally:
        sb.close()
