"""The data recipe of every RL task. No data to download: the environment is gymnax's; this
writes what the agent may know.

`data/variant.yaml` holds this variant's settings: the training settings that train.py takes for
the entries its config leaves `null` (the budget), and the evaluation protocol the grader
applies (checkpoints, number of seeds, environments per seed, episode length). The evaluation
seeds themselves are not here: the grader draws them from its secret `--seed`, a different set
for `validate` (dev) and for the final score (test).
"""

from __future__ import annotations

from pathlib import Path

import yaml


def prepare(
    public: Path,
    private: Path,
    *,
    seed: int,
    variant: str,
    env_name: str,
    train: dict,
    checkpoints: int = 5,
    eval_seeds: int = 4,
    eval_envs: int = 64,
    max_episode_steps: int | None = None,
    **grader_options,
) -> None:
    settings = {
        "variant": variant,
        "train": train,
        "evaluation": {
            "env_name": env_name,
            "checkpoints": checkpoints,
            "seeds": eval_seeds,
            "envs_per_seed": eval_envs,
            "max_episode_steps": max_episode_steps,
            **grader_options,
        },
    }
    (public / "variant.yaml").write_text(
        "# This task variant's settings (read-only). train.py fills its config's null entries\n"
        "# from `train`; the grader evaluates with `evaluation` (on secret seeds).\n"
        + yaml.safe_dump(settings, sort_keys=False)
    )
