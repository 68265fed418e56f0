"""GPU checks for a machine with NVIDIA GPUs (the CI machines have none).

1. A sandbox of a CPU variant sees no GPU; one of a GPU variant sees exactly the GPU rgym chose,
   from PyTorch and from JAX, and computes on it.
2. fashion-mnist's baseline trains and is scored on a GPU, timed beside the same baseline on the
   CPU of the same machine (2 cores, as the default variant asks).
3. Optionally an RL task's `full` baseline (JAX on the GPU).

    python benchmarks/bench_gpu.py [--sandbox bwrap|local] [--skip-cpu] [--rl rl-mountain-car]

Prints one JSON line per check; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

PROBE = """
import json, os
out = {"CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES")}
try:
    import torch
    out["torch_cuda"] = torch.cuda.is_available()
    out["torch_devices"] = torch.cuda.device_count()
    if out["torch_cuda"]:
        x = torch.randn(4096, 4096, device="cuda")
        out["torch_matmul_sum"] = float((x @ x).sum().item()) != 0.0
        out["torch_name"] = torch.cuda.get_device_name(0)
except Exception as e:
    out["torch_error"] = repr(e)[:300]
try:
    import jax
    out["jax_devices"] = [str(d) for d in jax.devices()]
except Exception as e:
    out["jax_error"] = repr(e)[:300]
print(json.dumps(out))
"""


def emit(**row) -> None:
    print(json.dumps(row), flush=True)


def probe(backend, gpus: list[str]) -> dict:
    from rgym.sandbox import LaunchSpec, SandboxLimits
    from rgym.sandbox.base import compute_env

    launch = LaunchSpec(
        argv=[backend.python(), "-c", PROBE],
        cwd="/tmp",
        env=compute_env(2),
        limits=SandboxLimits(cpus=2, memory_mb=16384, pids=512),
        gpus=gpus,
    )
    proc = backend.popen(
        launch, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = proc.popen.communicate(timeout=300)
    try:
        return {**json.loads(out.decode().strip().splitlines()[-1]), "limits": proc.limits_in_force}
    except (ValueError, IndexError):
        return {"error": (err or out).decode(errors="replace")[-1500:]}


def gpu_variant(spec, base: str = "default"):
    """The task with a variant `gpu`: its own when it has one, else `base` asking for a GPU."""
    if "gpu" in spec.variants:
        return spec, "gpu"
    spec = spec.model_copy(deep=True)
    v = spec.variants[base].model_copy(deep=True)
    v.resources.gpus = 1
    v.requires = ["gpu"]
    spec.variants["gpu"] = v
    spec.baseline.scores.setdefault("gpu", spec.baseline.scores.get(base, 0.0))
    return spec, "gpu"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--sandbox", default="bwrap")
    p.add_argument("--skip-cpu", action="store_true", help="skip the CPU baseline for comparison")
    p.add_argument("--rl", default="", help="also run this RL task's full baseline")
    args = p.parse_args()

    from rgym.sandbox import get_backend, gpu
    from rgym.tasks.registry import get_task
    from rgym.tasks.verify import score_solution

    ok = True
    have = gpu.visible()
    smi = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    emit(check="visible", gpus=have, nvidia_smi=smi.stdout.strip())
    backend = get_backend(args.sandbox)
    none = probe(backend, [])
    one = probe(backend, have[:1])
    emit(check="sandbox_without_gpu", **none)
    emit(check="sandbox_with_gpu", **one)
    ok &= none.get("torch_cuda") is False and one.get("torch_cuda") is True
    ok &= one.get("torch_devices") == 1

    spec, variant = gpu_variant(get_task("fashion-mnist"))
    t = time.monotonic()
    s = score_solution(spec, spec.baseline, variant, args.sandbox)
    emit(
        check="fashion_mnist_baseline_gpu",
        score=s.score,
        status=s.status,
        seconds=round(time.monotonic() - t, 1),
        message=s.message[-500:],
    )
    ok &= s.score is not None
    if not args.skip_cpu:
        t = time.monotonic()
        s = score_solution(get_task("fashion-mnist"), spec.baseline, "default", args.sandbox)
        emit(
            check="fashion_mnist_baseline_cpu_2_cores",
            score=s.score,
            status=s.status,
            seconds=round(time.monotonic() - t, 1),
            message=s.message[-500:],
        )
    if args.rl:
        rl = get_task(args.rl)
        t = time.monotonic()
        s = score_solution(rl, rl.baseline, "full", args.sandbox)
        emit(
            check=f"{args.rl}_full_baseline_gpu",
            score=s.score,
            status=s.status,
            seconds=round(time.monotonic() - t, 1),
            message=s.message[-500:],
            mlgym_baseline=rl.baseline_score("full"),
        )
        ok &= s.score is not None
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
