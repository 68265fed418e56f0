"""Evaluate the policy folder as the grader does, on seeds of your choice.

The grader runs the same rollout (rl_rollout.py is a copy of its code) with the policy behind a
call server in a sandbox of its own, on secret seeds, and the variant's protocol
(data/variant.yaml: checkpoints, seeds, environments per seed, episode length). Here the policy
runs in this process.

Run: python evaluate.py [--seed 0] [--seeds N] [--envs N] [--max-episode-steps N]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from rl_rollout import BadPolicy, Protocol, checkpoint_files, evaluation_seeds, rollout  # noqa: E402


def load_policy(folder: Path):
    """policy/model.py imported the way the grader's server imports it (its folder on sys.path)."""
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location("model", folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["model"] = module
    spec.loader.exec_module(module)
    return module.policy


def main() -> None:
    variant = yaml.safe_load((HERE / "data" / "variant.yaml").read_text())["evaluation"]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--policy", type=Path, default=HERE / "policy")
    p.add_argument("--seed", type=int, default=0, help="draws the evaluation seeds")
    p.add_argument("--seeds", type=int, default=variant["seeds"])
    p.add_argument("--envs", type=int, default=variant["envs_per_seed"])
    p.add_argument("--max-episode-steps", type=int, default=variant["max_episode_steps"])
    args = p.parse_args()
    n = len(checkpoint_files(args.policy))
    if n != variant["checkpoints"]:
        print(f"note: {n} checkpoint file(s); the grader wants exactly {variant['checkpoints']}")
    policy = load_policy(args.policy.resolve())
    protocol = Protocol(
        env_name=variant["env_name"],
        num_checkpoints=n,
        seeds=evaluation_seeds(args.seed, "local", args.seeds),
        envs_per_seed=args.envs,
        max_episode_steps=args.max_episode_steps,
    )
    try:
        metrics = rollout(
            lambda ckpt, obs, timeout: policy(np.array(ckpt), obs), protocol, args.seed
        )
    except BadPolicy as e:
        sys.exit(f"the grader would reject this policy: {e}")
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    main()
