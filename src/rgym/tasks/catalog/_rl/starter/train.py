"""PPO on a gymnax environment: trains the policies that rgym grades. Read it top to bottom.

Proximal Policy Optimisation (Schulman et al., 2017) with generalised advantage estimation,
clipped policy ratio, a learned critic and an entropy bonus. `num_checkpoints` policies (one per
seed) train side by side: jax.vmap runs them as one batched program, and each PPO update
(a rollout of `num_steps` steps in `num_envs` environments, then `update_epochs` passes of
minibatch gradient steps) is one jitted call. Progress is printed every few percent.

What it writes, the artefact: policy/checkpoints/ckpt-<i>.msgpack (the parameters of policy i),
policy/config.yaml (this run's config, which policy/model.py reads to rebuild the network) and
policy/train_log.json (the training curve). The network and the action distribution are in
policy/model.py.

Run: python train.py [--config config.yaml] [--progress 20]
     (long runs: nohup python train.py > train.log 2>&1 &   then   tail train.log)
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # a sandbox's memory is shared

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import NamedTuple

import flax.serialization
import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import yaml

HERE = Path(__file__).resolve().parent
POLICY = HERE / "policy"
sys.path.insert(0, str(POLICY))
import model  # noqa: E402  (policy/model.py: the network the grader restores)


def load_config(path: Path) -> dict:
    """The config; an entry left `null` takes this task variant's setting (data/variant.yaml)."""
    config = yaml.safe_load(path.read_text())
    variant = HERE / "data" / "variant.yaml"
    if any(v is None for v in config.values()) and variant.exists():
        defaults = yaml.safe_load(variant.read_text())["train"]
        config = {k: defaults.get(k) if v is None else v for k, v in config.items()}
    missing = [k for k, v in config.items() if v is None]
    if missing:
        sys.exit(f"{path}: no value for {', '.join(missing)} (and none in {variant})")
    return config


class Transition(NamedTuple):
    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    done: jax.Array


class Runner(NamedTuple):
    """Everything one policy carries from one update to the next."""

    params: dict
    opt_state: optax.OptState
    env_state: object
    obs: jax.Array
    episode_return: jax.Array
    key: jax.Array
    updates_done: jax.Array


def make_ppo(config: dict):
    """Returns (init, update, num_updates): init(key) -> Runner, and update(Runner) ->
    (Runner, metrics) for one policy (main() vmaps both over the policies)."""
    env, env_params = gymnax.make(config["env_name"])
    net, obs_shape = model.make_network(config)
    n_envs, n_steps = config["num_envs"], config["num_steps"]
    batch_size = n_envs * n_steps
    minibatch_size = batch_size // config["num_minibatches"]
    num_updates = config["total_timesteps"] // batch_size
    gamma, lam = config["gamma"], config["gae_lambda"]
    ent_coef_end = config.get("ent_coef_end", config["ent_coef"])

    schedule = optax.linear_schedule(
        config["lr"],
        config.get("lr_end", config["lr"]),
        max(1, num_updates * config["update_epochs"] * config["num_minibatches"]),
    )
    optimizer = optax.chain(
        optax.clip_by_global_norm(config["max_grad_norm"]),
        optax.adam(schedule, eps=1e-5),
    )
    vmap_reset = jax.vmap(env.reset, in_axes=(0, None))
    vmap_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def init(key) -> Runner:
        k_net, k_env, key = jax.random.split(key, 3)
        params = net.init(k_net, jnp.zeros((1, *obs_shape)))
        obs, env_state = vmap_reset(jax.random.split(k_env, n_envs), env_params)
        return Runner(
            params, optimizer.init(params), env_state, obs, jnp.zeros(n_envs), key, jnp.array(0)
        )

    def env_step(runner: Runner, _):
        """One step in every environment with actions sampled from the current policy."""
        key, k_act, k_env = jax.random.split(runner.key, 3)
        out, value = net.apply(runner.params, runner.obs)
        action = model.sample(out, k_act)
        obs, env_state, reward, term, trunc, info = vmap_step(
            jax.random.split(k_env, n_envs), runner.env_state, action, env_params
        )
        # an episode cut by the time limit did not end: bootstrap from its last observation
        _, last_value = net.apply(runner.params, info["final_observation"])
        reward_boot = reward + gamma * last_value * (trunc & ~term)
        done = term | trunc
        episode_return = runner.episode_return + reward
        finished = (jnp.where(done, episode_return, 0.0).sum(), done.sum())
        t = Transition(runner.obs, action, model.log_prob(out, action), value, reward_boot, done)
        runner = runner._replace(
            env_state=env_state,
            obs=obs,
            episode_return=jnp.where(done, 0.0, episode_return),
            key=key,
        )
        return runner, (t, finished)

    def advantages(traj: Transition, last_value):
        """Generalised advantage estimation, backwards through the rollout."""

        def back(carry, t: Transition):
            gae, next_value = carry
            not_done = 1.0 - t.done
            delta = t.reward + gamma * next_value * not_done - t.value
            gae = delta + gamma * lam * not_done * gae
            return (gae, t.value), gae

        _, adv = jax.lax.scan(back, (jnp.zeros_like(last_value), last_value), traj, reverse=True)
        return adv, adv + traj.value

    def loss_fn(params, ent_coef, t: Transition, adv, target):
        out, value = net.apply(params, t.obs)
        ratio = jnp.exp(model.log_prob(out, t.action) - t.log_prob)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        clipped = jnp.clip(ratio, 1 - config["clip_eps"], 1 + config["clip_eps"])
        policy_loss = -jnp.minimum(ratio * adv, clipped * adv).mean()
        value_loss = 0.5 * ((value - target) ** 2).mean()
        ent = model.entropy(out).mean()
        loss = policy_loss + config["vf_coef"] * value_loss - ent_coef * ent
        return loss, (policy_loss, value_loss, ent)

    def update(runner: Runner):
        runner, (traj, finished) = jax.lax.scan(env_step, runner, None, n_steps)
        _, last_value = net.apply(runner.params, runner.obs)
        adv, target = advantages(traj, last_value)
        # the entropy bonus, annealed linearly from ent_coef to ent_coef_end
        done_frac = runner.updates_done / num_updates
        ent_coef = config["ent_coef"] + (ent_coef_end - config["ent_coef"]) * done_frac

        def epoch(carry, _):
            params, opt_state, key = carry
            key, k_perm = jax.random.split(key)
            perm = jax.random.permutation(k_perm, batch_size)
            flat = jax.tree.map(
                lambda x: x.reshape((batch_size, *x.shape[2:])), (traj, adv, target)
            )
            shuffled = jax.tree.map(
                lambda x: x[perm].reshape(
                    (config["num_minibatches"], minibatch_size, *x.shape[1:])
                ),
                flat,
            )

            def minibatch(carry, mb):
                params, opt_state = carry
                grads, aux = jax.grad(loss_fn, has_aux=True)(params, ent_coef, *mb)
                updates, opt_state = optimizer.update(grads, opt_state)
                return (optax.apply_updates(params, updates), opt_state), aux

            (params, opt_state), aux = jax.lax.scan(minibatch, (params, opt_state), shuffled)
            return (params, opt_state, key), aux

        (params, opt_state, key), aux = jax.lax.scan(
            epoch, (runner.params, runner.opt_state, runner.key), None, config["update_epochs"]
        )
        total, count = (x.sum() for x in finished)
        metrics = {
            "episodes": count,
            "return": jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.nan),
            "entropy": aux[2].mean(),
            "value_loss": aux[1].mean(),
        }
        runner = runner._replace(
            params=params, opt_state=opt_state, key=key, updates_done=runner.updates_done + 1
        )
        return runner, metrics

    return init, update, num_updates


def save(runner: Runner, config: dict, log: list[dict]) -> None:
    """Write the artefact: one checkpoint per policy, the config and the training curve."""
    ckpts = POLICY / "checkpoints"
    if ckpts.exists():
        shutil.rmtree(ckpts)  # stale checkpoints would change the count the grader checks
    ckpts.mkdir(parents=True)
    for i in range(config["num_checkpoints"]):
        params = jax.tree.map(lambda x, i=i: np.asarray(x[i]), runner.params)
        (ckpts / f"ckpt-{i}.msgpack").write_bytes(flax.serialization.to_bytes(params))
    (POLICY / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (POLICY / "train_log.json").write_text(json.dumps(log))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=HERE / "config.yaml")
    p.add_argument("--progress", type=int, default=20, help="progress lines to print")
    args = p.parse_args()
    config = load_config(args.config)
    init, update, num_updates = make_ppo(config)
    if num_updates < 1:
        sys.exit("total_timesteps is smaller than one rollout (num_envs * num_steps)")
    keys = jax.random.split(jax.random.PRNGKey(config["seed"]), config["num_checkpoints"])
    runner = jax.jit(jax.vmap(init))(keys)
    update = jax.jit(jax.vmap(update))
    steps_per_update = config["num_envs"] * config["num_steps"]
    print(
        f"PPO on {config['env_name']}: {config['num_checkpoints']} policies x "
        f"{num_updates * steps_per_update:,} steps ({num_updates} updates)",
        flush=True,
    )
    print("settings:", json.dumps(config), flush=True)
    start, log, every = time.monotonic(), [], max(1, num_updates // args.progress)
    for u in range(1, num_updates + 1):
        runner, metrics = update(runner)
        if u % every == 0 or u == num_updates:
            m = jax.tree.map(np.asarray, metrics)
            returns = [round(float(r), 2) for r in m["return"]]
            log.append({"update": u, "steps": u * steps_per_update, "returns": returns})
            print(
                f"update {u}/{num_updates}  steps {u * steps_per_update:,}  "
                f"episode return per policy {returns}  entropy {m['entropy'].mean():.3f}  "
                f"{time.monotonic() - start:.0f}s",
                flush=True,
            )
    save(runner, config, log)
    print(f"saved {config['num_checkpoints']} checkpoints to {POLICY}/checkpoints", flush=True)


if __name__ == "__main__":
    main()
