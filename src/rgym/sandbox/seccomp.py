"""A seccomp filter that stops the agent from creating user namespaces.

As root, rgym's bubblewrap sandbox has no user namespace of its own, so bwrap's
`--disable-userns` (which needs `--unshare-user`) is not available. A user namespace would give
the agent's processes a full set of capabilities over new mount/net/pid namespaces: a large
kernel attack surface, and a way round the sandbox's view of the system. So, as Flatpak does,
bwrap loads this classic-BPF program (`--seccomp FD`): `unshare(2)` and `clone(2)` with
CLONE_NEWUSER fail with EPERM, and `clone3(2)` fails with ENOSYS (its flags sit in memory that
seccomp cannot read; glibc then falls back to `clone`). Everything else is allowed.

The program is written by hand (no libseccomp needed). It checks `seccomp_data.arch`, because a
64-bit process can still make 32-bit system calls (`int 0x80` on x86_64, AArch32 on arm64) whose
numbers differ; those are filtered with their own numbers, and x32 calls are refused.
"""

from __future__ import annotations

import errno
import os
import platform
import struct

CLONE_NEWUSER = 0x10000000

# classic BPF opcodes (linux/filter.h, linux/bpf_common.h)
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K

RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000

# offsets in struct seccomp_data {int nr; u32 arch; u64 ip; u64 args[6];}; args[0]'s low word
# is at 16 on the little-endian machines below
_NR, _ARCH, _ARG0_LO = 0, 4, 16

X32_BIT = 0x40000000

# arch value -> (unshare, clone, clone3) numbers
ARCHES: dict[int, tuple[int, int, int]] = {
    0xC000003E: (272, 56, 435),  # AUDIT_ARCH_X86_64
    0x40000003: (310, 120, 435),  # AUDIT_ARCH_I386 (int 0x80 from a 64-bit process too)
    0xC00000B7: (97, 220, 435),  # AUDIT_ARCH_AARCH64
    0x40000028: (337, 120, 435),  # AUDIT_ARCH_ARM (AArch32 compat)
}
MACHINES = {
    "x86_64": (0xC000003E, 0x40000003),
    "amd64": (0xC000003E, 0x40000003),
    "aarch64": (0xC00000B7, 0x40000028),
    "arm64": (0xC00000B7, 0x40000028),
}


def _ins(code: int, k: int, jt: object = 0, jf: object = 0) -> tuple:
    return (code, jt, jf, k)


def program(machine: str | None = None) -> bytes | None:
    """The filter as packed `struct sock_filter`s; None when this machine's arch is unknown."""
    arches = MACHINES.get((machine or platform.machine()).lower())
    if arches is None:
        return None
    eperm, enosys = RET_ERRNO | errno.EPERM, RET_ERRNO | errno.ENOSYS
    prog: list[tuple] = [_ins(_LD_W_ABS, _ARCH)]
    for arch in arches:
        prog.append(_ins(_JEQ_K, arch, jt=f"arch{arch:x}"))
    prog.append(_ins(_RET_K, RET_KILL_PROCESS))  # a foreign ABI this host cannot run anyway
    for arch in arches:
        unshare, clone, clone3 = ARCHES[arch]
        prog.append(f"arch{arch:x}")
        prog.append(_ins(_LD_W_ABS, _NR))
        if arch == 0xC000003E:
            prog.append(_ins(_JSET_K, X32_BIT, jt="enosys"))  # x32 ABI: refuse outright
        prog += [
            _ins(_JEQ_K, clone3, jt="enosys"),
            _ins(_JEQ_K, unshare, jt="flags"),
            _ins(_JEQ_K, clone, jt="flags"),
            _ins(_RET_K, RET_ALLOW),
        ]
    prog += [
        "flags",
        _ins(_LD_W_ABS, _ARG0_LO),
        _ins(_JSET_K, CLONE_NEWUSER, jt="eperm"),
        _ins(_RET_K, RET_ALLOW),
        "eperm",
        _ins(_RET_K, eperm),
        "enosys",
        _ins(_RET_K, enosys),
    ]
    return _assemble(prog)


def _assemble(prog: list) -> bytes:
    """Resolve label names in jump targets to relative offsets and pack the instructions."""
    labels: dict[str, int] = {}
    code: list[tuple] = []
    for item in prog:
        if isinstance(item, str):
            labels[item] = len(code)
        else:
            code.append(item)
    out = b""
    for i, (op, jt, jf, k) in enumerate(code):
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        if not (0 <= jt < 256 and 0 <= jf < 256):
            raise ValueError("seccomp jump out of range")
        out += struct.pack("=HBBI", op, jt, jf, k)
    return out


def filter_fd(machine: str | None = None) -> int | None:
    """A memfd holding the program, positioned at 0, for bwrap's `--seccomp FD`; None when the
    arch is unknown (then user namespaces are not blocked, and the caller must say so)."""
    prog = program(machine)
    if prog is None:
        return None
    fd = os.memfd_create("rgym-seccomp", os.MFD_CLOEXEC)
    os.write(fd, prog)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
