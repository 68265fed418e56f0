"""The evaluation rollout of rgym's RL tasks: the grader's environment, loop and dice.

The environment (a gymnax one), its reward and every random number of the evaluation live here;
the agent's policy is only asked, once per step, for the action distribution of a batch of
observations: `call(ckpt, obs)` returns logits (discrete actions) or `(mean, std)` (continuous
actions). This module checks every answer and samples the actions itself, as MLGym samples
them, from the policy's distribution with the grader's own generator: a policy cannot bias its
dice. The rollout is MLGym's protocol: each checkpoint plays episodes from every evaluation
seed, each seed with many parallel environments (episodes differ between checkpoints, as a
policy may keep state between calls); an episode's return is the sum of its rewards until its first
`done` (terminated or truncated by the environment's own time limit). Metric: the mean return
over all episodes of all checkpoints.

Used by the grader of rl-breakout, rl-meta-maze, rl-mountain-car and
rl-mountain-car-reinforce (with the policy behind rgym's model server) and, as a copy, by their
starters' evaluate.py (with the policy in-process). Needs numpy, jax and gymnax.
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # a sandbox's memory is shared

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_ACTION = 1e6
"""Continuous samples are cut to [-MAX_ACTION, MAX_ACTION] (an action cost of 0.1 x a^2 per step
stays finite in float32); the policy's mean must lie in the action space anyway."""


class BadPolicy(Exception):
    """The policy's answer cannot be used (the grader turns it into an invalid outcome)."""


@dataclass
class Protocol:
    """How a policy folder is evaluated (a task variant's options fill it in)."""

    env_name: str
    num_checkpoints: int = 5
    seeds: list[int] = field(default_factory=lambda: [0])
    """Evaluation seeds: each fixes the starts and the randomness of `envs_per_seed` episodes."""
    envs_per_seed: int = 64
    max_episode_steps: int | None = None
    """Cut episodes after this many steps (MLGym stops MountainCar at 200); None: the
    environment's own limit."""
    first_call_timeout: float = 120.0
    """Seconds the first call of each checkpoint may take (restoring it, compiling)."""
    call_timeout: float = 10.0
    """Seconds any later call may take."""
    time_limit: float | None = None
    """Seconds the policy may spend answering, all calls together."""


Call = Callable[[int, np.ndarray, float], Any]
"""call(ckpt, obs, timeout) -> the policy's raw answer for a batch of observations."""


def make_env(name: str, max_episode_steps: int | None = None):
    """The gymnax environment and its parameters (episode length capped when asked)."""
    import gymnax

    env, params = gymnax.make(name)
    if max_episode_steps is not None:
        params = params.replace(max_steps_in_episode=int(max_episode_steps))
    return env, params


@functools.cache
def env_functions(name: str, max_episode_steps: int | None):
    """The environment, its parameters, and jitted batched `reset(keys)` and
    `step(keys, t, state, action) -> (obs, state, reward, done)`. Environment i draws its
    randomness from keys[i] alone (folded with the step number), so a rollout is the same
    whatever the batch around it."""
    import jax
    import jax.numpy as jnp

    env, params = make_env(name, max_episode_steps)

    @jax.jit
    def reset(keys):
        reset_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, 0)
        return jax.vmap(env.reset, in_axes=(0, None))(reset_keys, params)

    @jax.jit
    def step(keys, t, state, action):
        step_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, t + 1)
        obs, state, reward, term, trunc, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            step_keys, state, action, params
        )
        return obs, state, reward, jnp.logical_or(term, trunc)

    return env, params, reset, step


def _as_array(x, what: str) -> np.ndarray:
    try:
        a = np.asarray(x)
    except Exception as e:  # an object numpy cannot take
        raise BadPolicy(f"{what} is not an array of numbers ({type(x).__name__}): {e}") from None
    if a.dtype == object or not (
        np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
    ):
        raise BadPolicy(f"{what} has dtype {a.dtype}; expected floating-point numbers")
    return a.astype(np.float64)


def _bad_values(a: np.ndarray) -> str:
    n_nan, n_inf = int(np.isnan(a).sum()), int(np.isinf(a).sum())
    return f"{n_nan} NaN and {n_inf} infinite value(s)"


class ActionSampler:
    """Checks a policy's answers for one action space and samples actions from them."""

    def __init__(self, space, batch: int, rng: np.random.Generator):
        self.batch, self.rng = batch, rng
        self.discrete = hasattr(space, "n")
        if self.discrete:
            self.n = int(space.n)
        else:
            self.shape = tuple(space.shape)
            self.low = np.broadcast_to(np.asarray(space.low, np.float64), self.shape)
            self.high = np.broadcast_to(np.asarray(space.high, np.float64), self.shape)

    def describe(self) -> str:
        if self.discrete:
            return f"logits, an array of shape ({self.batch}, {self.n}) (one per action)"
        return (
            f"a pair (mean, std), each an array of shape ({self.batch}, "
            f"{', '.join(map(str, self.shape))})"
        )

    def sample(self, out, where: str) -> np.ndarray:
        return self._discrete(out, where) if self.discrete else self._continuous(out, where)

    def _discrete(self, out, where: str) -> np.ndarray:
        if isinstance(out, tuple | list):
            raise BadPolicy(
                f"{where} returned a {type(out).__name__} of {len(out)} values; this "
                f"environment's actions are discrete: expected {self.describe()}"
            )
        logits = _as_array(out, f"{where}'s answer")
        if logits.shape != (self.batch, self.n):
            raise BadPolicy(
                f"{where} returned an array of shape {logits.shape}; expected "
                f"{self.describe()}: the action space has {self.n} actions (0..{self.n - 1})"
            )
        if not np.isfinite(logits).all():
            raise BadPolicy(
                f"{where} returned logits with {_bad_values(logits)}; every logit must be "
                "finite (use a large negative number rather than -inf to rule an action out)"
            )
        # Gumbel-max: an exact sample of softmax(logits), with the grader's own generator
        gumbel = self.rng.gumbel(size=logits.shape)
        return np.argmax(logits + gumbel, axis=1).astype(np.int32)

    def _continuous(self, out, where: str) -> np.ndarray:
        if not isinstance(out, tuple | list) or len(out) != 2:
            raise BadPolicy(
                f"{where} returned {type(out).__name__}"
                + (f" of {len(out)} values" if isinstance(out, tuple | list) else "")
                + f"; this environment's actions are continuous: expected {self.describe()}"
            )
        mean = _as_array(out[0], f"{where}'s mean")
        std = _as_array(out[1], f"{where}'s std")
        want = (self.batch, *self.shape)
        for name, a in (("mean", mean), ("std", std)):
            if a.shape != want:
                raise BadPolicy(
                    f"{where} returned a {name} of shape {a.shape}; expected {want} "
                    f"({self.describe()})"
                )
            if not np.isfinite(a).all():
                raise BadPolicy(f"{where} returned a {name} with {_bad_values(a)}")
        if (std <= 0).any():
            raise BadPolicy(
                f"{where} returned a std <= 0 (smallest {std.min():.3g}); every std must be > 0"
            )
        outside = (mean < self.low - 1e-6) | (mean > self.high + 1e-6)
        if outside.any():
            worst = mean[outside].flat[np.argmax(np.abs(mean[outside]))]
            raise BadPolicy(
                f"{where} returned a mean outside the action space [{self.low.min():g}, "
                f"{self.high.max():g}] ({int(outside.sum())} value(s), e.g. {worst:.4g}); "
                "bound it, e.g. with tanh"
            )
        action = mean + std * self.rng.standard_normal(mean.shape)
        # passed on as sampled (the environment clips and charges); cut only where float32
        # arithmetic on it would overflow, so that every return stays a finite number
        return np.clip(action, -MAX_ACTION, MAX_ACTION).astype(np.float32)


def episode_keys(seeds: list[int], envs_per_seed: int):
    """One PRNG key per environment: `envs_per_seed` from each evaluation seed."""
    import jax

    return jax.numpy.concatenate(
        [jax.random.split(jax.random.PRNGKey(int(s) % 2**32), envs_per_seed) for s in seeds]
    )


def rollout(call: Call, protocol: Protocol, sample_seed: int) -> dict[str, Any]:
    """Evaluate every checkpoint on every seed; returns the metrics (see `summarise`).

    Raises BadPolicy for an unusable answer and for a policy slower than the protocol allows;
    whatever `call` raises (a crash, a call timeout) goes through unchanged."""
    import jax
    import jax.numpy as jnp

    env, params, reset, step = env_functions(protocol.env_name, protocol.max_episode_steps)
    keys = episode_keys(protocol.seeds, protocol.envs_per_seed)
    batch = int(keys.shape[0])
    horizon = int(params.max_steps_in_episode)

    space = env.action_space(params)
    start = time.monotonic()
    in_policy = 0.0
    env_steps = 0
    returns, lengths = [], []
    for ckpt in range(protocol.num_checkpoints):
        sampler = ActionSampler(space, batch, np.random.default_rng([sample_seed, ckpt]))
        # other episodes for each checkpoint: a policy that keeps state between calls must
        # not learn this evaluation's mazes or starts on one checkpoint and replay them later
        ckpt_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, ckpt)
        obs, state = reset(ckpt_keys)
        ret = np.zeros(batch)
        length = np.zeros(batch, np.int64)
        alive = np.ones(batch, bool)
        for t in range(horizon):
            timeout = protocol.first_call_timeout if t == 0 else protocol.call_timeout
            t0 = time.monotonic()
            out = call(ckpt, np.asarray(obs, np.float32), timeout)
            in_policy += time.monotonic() - t0
            if protocol.time_limit is not None and in_policy > protocol.time_limit:
                raise BadPolicy(
                    f"the policy took {in_policy:.0f} s to answer, more than the "
                    f"{protocol.time_limit:g} s allowed for the whole evaluation (it was at "
                    f"checkpoint {ckpt}, step {t}); make it faster (batch the forward pass, "
                    "jit it, restore each checkpoint once)"
                )
            action = sampler.sample(out, f"policy({ckpt}, obs) at step {t}")
            obs, state, reward, done = step(ckpt_keys, t, state, jnp.asarray(action))
            reward, done = np.asarray(reward, np.float64), np.asarray(done)
            env_steps += batch
            ret += np.where(alive, reward, 0.0)
            length += alive
            alive &= ~done
            if not alive.any():
                break
        returns.append(ret)
        lengths.append(length)
    return summarise(returns, lengths, env_steps, time.monotonic() - start, in_policy)


def summarise(returns, lengths, env_steps: int, seconds: float, in_policy: float) -> dict:
    """return_mean (the score) and return_std over all episodes; per-checkpoint means; sizes."""
    all_returns = np.concatenate(returns)
    per_ckpt = [float(r.mean()) for r in returns]
    metrics = {
        "return_mean": float(all_returns.mean()),
        "return_std": float(all_returns.std()),
        "worst_checkpoint_mean": min(per_ckpt),
        "best_checkpoint_mean": max(per_ckpt),
        "episode_length_mean": float(np.concatenate(lengths).mean()),
        "episodes": int(all_returns.size),
        "env_steps": int(env_steps),
        "seconds": round(seconds, 3),
        "policy_seconds": round(in_policy, 3),
        "env_steps_per_second": round(env_steps / max(seconds, 1e-9), 1),
    }
    for i, m in enumerate(per_ckpt):
        metrics[f"checkpoint_{i}_mean"] = m
    return metrics


def evaluation_seeds(secret: int, split: str, count: int) -> list[int]:
    """`count` evaluation seeds for a split, drawn from the grader's secret seed: dev and test
    never share one (even in public-seed mode, where both splits get the same `--seed`)."""
    tag = {"dev": 1, "test": 2}.get(split, 3)
    ss = np.random.SeedSequence([int(secret) % 2**63, tag])
    return [int(x) for x in ss.generate_state(count, np.uint32)]


def sampling_seed(secret: int, split: str) -> int:
    """The seed of the grader's action sampling for a split (apart from the episode seeds)."""
    tag = {"dev": 11, "test": 12}.get(split, 13)
    return int(np.random.SeedSequence([int(secret) % 2**63, tag]).generate_state(1, np.uint64)[0])


def checkpoint_files(folder) -> list[str]:
    """The files in the artefact's checkpoints/ folder (names only, sorted)."""
    from pathlib import Path

    d = Path(folder) / "checkpoints"
    if not d.is_dir():
        return []
    return sorted(p.name for p in d.iterdir() if p.is_file() and not p.name.startswith("."))


def protocol_from_options(env_name: str, options: dict, seeds: list[int]) -> Protocol:
    """The variant's evaluation protocol (task.yaml `variants.<name>.data`)."""
    return Protocol(
        env_name=env_name,
        num_checkpoints=int(options.get("checkpoints", 5)),
        seeds=seeds,
        envs_per_seed=int(options.get("eval_envs", 64)),
        max_episode_steps=options.get("max_episode_steps"),
        first_call_timeout=float(options.get("first_call_timeout", 120.0)),
        call_timeout=float(options.get("call_timeout", 10.0)),
        time_limit=options.get("policy_time_limit"),
    )


def grade(args, env_name: str) -> dict:
    """What each RL task's grade.py runs: the checkpoint count, then the rollout with the policy
    behind rgym's model server; every bad artefact becomes rgym_grade.Invalid."""
    import rgym_grade

    options = args.options
    seeds = evaluation_seeds(args.seed, args.split, int(options.get("eval_seeds", 4)))
    protocol = protocol_from_options(env_name, options, seeds)
    files = checkpoint_files(args.artifact)
    if len(files) != protocol.num_checkpoints:
        shown = ", ".join(files[:8]) + (" …" if len(files) > 8 else "")
        raise rgym_grade.Invalid(
            f"{args.artifact.name}/checkpoints/ holds {len(files)} file(s)"
            + (f" ({shown})" if files else "")
            + f"; the grader evaluates exactly {protocol.num_checkpoints} checkpoints, "
            f"policy(0, obs) … policy({protocol.num_checkpoints - 1}, obs), one file each"
        )
    model = rgym_grade.remote_model()

    def call(ckpt: int, obs: np.ndarray, timeout: float):
        return model.call("policy", np.array(ckpt), obs, timeout=timeout)

    try:
        return rollout(call, protocol, sampling_seed(args.seed, args.split))
    except BadPolicy as e:
        raise rgym_grade.Invalid(str(e)) from None
