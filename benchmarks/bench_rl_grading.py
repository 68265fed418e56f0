"""How fast the RL tasks' grading rolls out, and what the model server's transport costs.

For each task, a policy folder (the starter's model.py with its checkpoints: trained ones from
--policy, else freshly initialised ones) is evaluated twice with the grader's own rollout
(src/rgym/tasks/catalog/_rl/rl_rollout.py) and the variant's protocol: once with the policy called
in this process, once through rgym's model server (model_server.py in a child process, numpy
arrays over two pipes as .npy frames, as in grading, without the sandbox). Both runs sample the
same actions, so their returns must agree exactly; the difference in time is the transport's.
With --train, the policy folder is the baseline's: the starter's train.py is run first in a
workspace made as an episode makes it (the starter, data/variant.yaml of the variant), and its
time and score are reported too; `--variant full --train` is the full baseline, standalone (no
sandbox, no rgym needed; a GPU where JAX sees one). With --end-to-end, the folder is also graded
the real way (rgym's runner, bwrap sandboxes, secret seeds): that time includes starting both
sandboxes and importing JAX twice.

Run: python benchmarks/bench_rl_grading.py [--task rl-breakout ...] [--variant default]
     [--policy DIR | --train] [--end-to-end]
Prints one line per task and mode, then a JSON summary.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "src" / "rgym" / "tasks" / "catalog"
INSIDE = ROOT / "src" / "rgym" / "grading" / "inside"
TASKS = ["rl-breakout", "rl-meta-maze", "rl-mountain-car"]
"""The default set: rl-mountain-car-reinforce grades exactly as rl-mountain-car does."""
sys.path[:0] = [str(INSIDE), str(CATALOG / "_rl")]
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import rgym_grade  # noqa: E402
import rl_rollout  # noqa: E402

from rgym.tasks.registry import get_task  # noqa: E402


def variant_options(task: str, variant: str) -> dict:
    spec = yaml.safe_load((CATALOG / task / "task.yaml").read_text())
    return spec["variants"][variant].get("data", {})


def fresh_policy(task: str, options: dict, into: Path) -> Path:
    """The starter's policy folder with freshly initialised checkpoints (what train.py saves)."""
    import flax.serialization
    import jax
    import jax.numpy as jnp

    folder = into / "policy"
    shutil.copytree(CATALOG / "_rl" / "starter" / "policy", folder)
    config = yaml.safe_load((CATALOG / task / "starter" / "config.yaml").read_text())
    config = {k: options["train"].get(k) if v is None else v for k, v in config.items()}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    spec = importlib.util.spec_from_file_location(f"bench_model_{task}", folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    net, obs_shape = module.make_network(config)
    (folder / "checkpoints").mkdir()
    for i in range(int(options.get("checkpoints", 5))):
        params = net.init(jax.random.PRNGKey(i), jnp.zeros((1, *obs_shape)))
        (folder / "checkpoints" / f"ckpt-{i}.msgpack").write_bytes(
            flax.serialization.to_bytes(params)
        )
    return folder


def train_baseline(task: str, variant: str, into: Path) -> tuple[Path, float]:
    """Run the starter's `python train.py` in a fresh workspace; (policy folder, seconds)."""
    ws = into / "workspace"
    ws.mkdir()
    task_spec = get_task(task)
    task_spec.lay_out(task_spec.starter, ws)
    (ws / "data").mkdir()
    spec = importlib.util.spec_from_file_location(f"prepare_{task}", CATALOG / "_rl" / "prepare.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    recipe.prepare(ws / "data", into, seed=0, variant=variant, **variant_options(task, variant))
    start = time.monotonic()
    subprocess.run([sys.executable, "train.py"], cwd=ws, check=True)
    return ws / "policy", time.monotonic() - start


def in_process(folder: Path):
    """policy() of the folder's model.py, imported here (its folder on sys.path)."""
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(f"model_{id(folder)}", folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    sys.path.remove(str(folder))
    return lambda ckpt, obs, timeout: module.policy(np.array(ckpt), obs)


def through_server(folder: Path):
    """policy() behind rgym's model server in a child process; returns (call, process)."""
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(INSIDE), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, str(INSIDE / "model_server.py"), str(folder / "model.py")],
        stdin=to_r,
        stdout=from_w,
        stderr=subprocess.DEVNULL,
        cwd=folder,
        env=env,
    )
    os.close(to_r)
    os.close(from_w)
    model = rgym_grade.RemoteModel(from_r, to_w, "the policy", load_timeout=300)

    def call(ckpt, obs, timeout):
        return model.call("policy", np.array(ckpt), obs, timeout=timeout)

    return call, proc


def bench(task: str, variant: str, policy: Path | None, train: bool, end_to_end: bool) -> dict:
    options = variant_options(task, variant)
    env_name = yaml.safe_load((CATALOG / task / "starter" / "config.yaml").read_text())["env_name"]
    seeds = rl_rollout.evaluation_seeds(0, "test", int(options.get("eval_seeds", 4)))
    protocol = rl_rollout.protocol_from_options(env_name, options, seeds)
    tmp = Path(tempfile.mkdtemp(prefix="bench-rl-"))
    try:
        row: dict = {"task": task, "variant": variant, "trained": bool(policy or train)}
        if train:
            folder, seconds = train_baseline(task, variant, tmp)
            row["train_seconds"] = round(seconds, 1)
        else:
            folder = policy.resolve() if policy else fresh_policy(task, options, tmp)
        call = in_process(folder)
        rl_rollout.rollout(call, protocol, 1)  # compile both sides once; time the second run
        start = time.monotonic()
        local = rl_rollout.rollout(call, protocol, 7)
        row["in_process_seconds"] = round(time.monotonic() - start, 2)
        call, proc = through_server(folder)
        try:
            rl_rollout.rollout(call, protocol, 1)
            start = time.monotonic()
            remote = rl_rollout.rollout(call, protocol, 7)
            row["server_seconds"] = round(time.monotonic() - start, 2)
        finally:
            proc.kill()
        assert remote["return_mean"] == local["return_mean"], (local, remote)
        row["env_steps"] = local["env_steps"]
        row["calls"] = local["env_steps"] // (len(seeds) * protocol.envs_per_seed)
        row["return_mean"] = round(local["return_mean"], 3)
        row["in_process_steps_per_s"] = round(local["env_steps"] / row["in_process_seconds"])
        row["server_steps_per_s"] = round(remote["env_steps"] / row["server_seconds"])
        extra = row["server_seconds"] - row["in_process_seconds"]
        row["transport_ms_per_call"] = round(1000 * extra / row["calls"], 2)
        row["transport_share"] = round(extra / row["server_seconds"], 3)
        if end_to_end:
            row |= grade_for_real(task, variant, folder)
        return row
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def grade_for_real(task: str, variant: str, folder: Path) -> dict:
    """Grade the folder with rgym's runner in bwrap sandboxes (test split, this installation)."""
    from rgym.grading.runner import grade
    from rgym.sandbox import get_backend
    from rgym.tasks.data import prepare_data
    from rgym.tasks.registry import get_task

    spec = get_task(task)
    data = prepare_data(spec, variant)
    ws = Path(tempfile.mkdtemp(prefix="bench-rl-ws-"))
    try:
        shutil.copytree(folder, ws / "policy")
        start = time.monotonic()
        g = grade(spec, variant, ws, "test", get_backend("bwrap"), data)
        out = {"grade_seconds": round(time.monotonic() - start, 2), "grade_status": str(g.status)}
        if g.ok:
            out["grade_rollout_seconds"] = g.metrics.get("seconds")
            out["grade_policy_seconds"] = g.metrics.get("policy_seconds")
        else:
            out["grade_message"] = g.message
        return out
    finally:
        shutil.rmtree(ws, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--task",
        action="append",
        choices=[*TASKS, "rl-mountain-car-reinforce"],
        help="default: the three environments",
    )
    p.add_argument("--variant", default="default")
    p.add_argument("--policy", type=Path, help="a trained policy folder (one task only)")
    p.add_argument("--train", action="store_true", help="train the baseline first")
    p.add_argument("--end-to-end", action="store_true", help="also grade through rgym (bwrap)")
    args = p.parse_args()
    tasks = args.task or TASKS
    if args.policy and (len(tasks) != 1 or args.train):
        p.error("--policy needs exactly one --task, and no --train")
    load = os.getloadavg()
    rows = []
    for task in tasks:
        row = bench(task, args.variant, args.policy, args.train, args.end_to_end)
        rows.append(row)
        print(
            f"{task:16} {row['env_steps']:>9,} env steps in {row['calls']:>5} calls | in-process "
            f"{row['in_process_seconds']:6.2f} s ({row['in_process_steps_per_s']:>8,}/s) | "
            f"server {row['server_seconds']:6.2f} s ({row['server_steps_per_s']:>8,}/s) | "
            f"transport {row['transport_ms_per_call']:.2f} ms/call, "
            f"{100 * row['transport_share']:.0f}% of the time"
            + (f" | graded in {row['grade_seconds']} s" if "grade_seconds" in row else "")
            + (f" | trained in {row['train_seconds']} s" if "train_seconds" in row else ""),
            flush=True,
        )
    print(json.dumps({"load_average": load, "cpus": os.cpu_count(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
