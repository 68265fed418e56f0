"""Which NVIDIA GPUs a sandbox may use, and the device nodes that give it them.

A sandbox sees no GPU unless its variant asks for one. When it does, rgym chooses the GPUs (the
ones rgym itself may use: `CUDA_VISIBLE_DEVICES` when set, as a batch pool or a cluster sets it,
else every `/dev/nvidiaN`), binds their device nodes and the driver's control nodes into the
sandbox, and sets `CUDA_VISIBLE_DEVICES` there to the same ids. The driver's libraries come with
`/usr` (where distributions and the NVIDIA container images put them), and PyTorch and JAX
wheels bring their own CUDA runtime.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rgym.errors import RgymError

DEV = Path("/dev")
CONTROL_NODES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")


class GpuUnavailable(RgymError):
    """A variant asks for more GPUs than this machine lets rgym use."""


def _numbered_nodes(dev: Path = DEV) -> list[str]:
    found = [m.group(1) for p in dev.glob("nvidia*") if (m := re.fullmatch(r"nvidia(\d+)", p.name))]
    return sorted(found, key=int)


def visible(env: dict[str, str] | None = None, dev: Path = DEV) -> list[str]:
    """The GPU ids rgym may hand out: `CUDA_VISIBLE_DEVICES` when set (an empty or negative
    value means none), else the numbered device nodes, in order."""
    env = os.environ if env is None else env
    nodes = _numbered_nodes(dev)
    if not nodes or not (dev / "nvidiactl").exists():
        return []
    if "CUDA_VISIBLE_DEVICES" in env:
        ids = [x.strip() for x in env["CUDA_VISIBLE_DEVICES"].split(",") if x.strip()]
        out = []
        for x in ids:
            if x.lstrip("-").isdigit() and int(x) < 0:
                break  # CUDA stops at the first invalid id
            out.append(x)
        return out
    return nodes


def choose(
    count: int, what: str, wanted: list[str] | None = None, env: dict[str, str] | None = None
) -> list[str]:
    """`count` GPU ids for a sandbox (`wanted` when given: a batch's assignment), or a clear
    GpuUnavailable that says what was asked for and what this machine has."""
    if count <= 0:
        return []
    have = visible(env)
    pool = [g for g in wanted if g in have] if wanted else have
    if len(pool) < count:
        seen = ", ".join(have) if have else "none (no /dev/nvidia0 and /dev/nvidiactl)"
        raise GpuUnavailable(
            f"{what} needs {count} GPU(s); GPUs rgym may use here: {seen}"
            + (f" (asked for {', '.join(wanted)})" if wanted else "")
            + ". Run a CPU variant (the default) instead, or run on a machine with NVIDIA GPUs "
            "and their driver."
        )
    return pool[:count]


def device_nodes(ids: list[str], dev: Path = DEV) -> list[str]:
    """The device nodes a sandbox with GPUs `ids` needs: the control nodes that exist, and each
    GPU's own node (every numbered node when the ids are UUIDs, which name no node)."""
    if not ids:
        return []
    nodes = [str(dev / n) for n in CONTROL_NODES if (dev / n).exists()]
    numbered = _numbered_nodes(dev)
    own = [i for i in ids if i.isdigit() and i in numbered]
    if len(own) != len(ids):  # UUIDs or MIG ids: CUDA_VISIBLE_DEVICES picks among all nodes
        own = numbered
    nodes += [str(dev / f"nvidia{i}") for i in own]
    caps = dev / "nvidia-caps"
    if caps.is_dir():
        nodes += [str(p) for p in sorted(caps.iterdir())]
    return nodes


def sandbox_env(ids: list[str]) -> dict[str, str]:
    """What a sandbox's processes are told: only its own GPUs, in PCI order (nvidia-smi's)."""
    if not ids:
        return {"CUDA_VISIBLE_DEVICES": ""}
    return {"CUDA_VISIBLE_DEVICES": ",".join(ids), "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
