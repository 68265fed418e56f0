"""The policy network, and the function rgym's grader calls. This folder is the artefact.

train.py builds its network from this file and saves into this folder: `config.yaml` (a copy
of the training config; the network's shape comes from it) and `checkpoints/ckpt-<i>.msgpack`
(the parameters of policy i, flax msgpack). The grader imports this file in a sandbox of its own
(working directory and sys.path: this folder; no network; read-only) and calls

    policy(ckpt, obs) -> logits                (discrete actions)
    policy(ckpt, obs) -> (mean, std)           (continuous actions)

with `ckpt` a 0-d int array (which checkpoint) and `obs` a float32 array (batch, *obs_shape).
The grader samples the actions from this distribution itself. Change anything here (another
network, other files), as long as `policy` keeps that contract.
"""

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # a sandbox's memory is shared

from pathlib import Path

import flax.linen as nn
import flax.serialization
import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import yaml

HERE = Path(__file__).resolve().parent


def scaled(scale: float):
    """Initial weights drawn with variance scale / fan_in. (Not orthogonal ones: jax 0.10's CPU
    QR kernel, vmapped over the policies, can deadlock on a 2-core machine.)"""
    return nn.initializers.variance_scaling(scale, "fan_in", "truncated_normal")


class ActorCritic(nn.Module):
    """Separate actor and critic MLPs on the flattened observation.

    Discrete actions: the actor gives logits. Continuous ones: a mean squashed into the action
    box with tanh, and a learned log-std per action dimension (independent of the state). With
    `obs_low`/`obs_high` (network setting `normalize: true`), each observation feature is first
    rescaled from the range the environment declares for it to [-1, 1]."""

    action_dim: int
    discrete: bool
    hidden: int = 256
    layers: int = 2
    activation: str = "relu"
    low: float = -1.0
    high: float = 1.0
    obs_low: tuple[float, ...] | None = None
    obs_high: tuple[float, ...] | None = None

    @nn.compact
    def __call__(self, obs):
        act = {"relu": nn.relu, "tanh": nn.tanh}[self.activation]
        x = obs.reshape((obs.shape[0], -1))
        if self.obs_low is not None:
            low, high = jnp.asarray(self.obs_low), jnp.asarray(self.obs_high)
            x = 2 * (x - low) / (high - low) - 1
        a = v = x
        for _ in range(self.layers):
            a = act(nn.Dense(self.hidden, kernel_init=scaled(2.0))(a))
            v = act(nn.Dense(self.hidden, kernel_init=scaled(2.0))(v))
        value = nn.Dense(1, kernel_init=scaled(1.0))(v)[:, 0]
        head = nn.Dense(self.action_dim, kernel_init=scaled(1e-4))(a)  # near-uniform at first
        if self.discrete:
            return head, value
        mean = self.low + (jnp.tanh(head) + 1) * (self.high - self.low) / 2
        log_std = self.param("log_std", nn.initializers.zeros, (self.action_dim,))
        return (mean, jnp.broadcast_to(log_std, mean.shape)), value


def make_network(config: dict) -> tuple[ActorCritic, tuple[int, ...]]:
    """The network for config["env_name"] and config["network"], and the observation shape."""
    env, params = gymnax.make(config["env_name"])
    space = env.action_space(params)
    net = config.get("network", {})
    discrete = hasattr(space, "n")
    obs_space = env.observation_space(params)
    obs_low = obs_high = None
    if net.get("normalize"):  # the declared range of each feature; (0, 1) where it is useless
        shape = obs_space.shape
        lo = np.broadcast_to(np.asarray(obs_space.low, np.float64), shape).ravel()
        hi = np.broadcast_to(np.asarray(obs_space.high, np.float64), shape).ravel()
        bad = ~np.isfinite(lo) | ~np.isfinite(hi) | (hi <= lo)
        obs_low = tuple(np.where(bad, 0.0, lo).tolist())
        obs_high = tuple(np.where(bad, 1.0, hi).tolist())
    model = ActorCritic(
        action_dim=int(space.n) if discrete else int(np.prod(space.shape)),
        discrete=discrete,
        hidden=net.get("hidden", 256),
        layers=net.get("layers", 2),
        activation=net.get("activation", "relu"),
        low=0.0 if discrete else float(np.min(space.low)),
        high=0.0 if discrete else float(np.max(space.high)),
        obs_low=obs_low,
        obs_high=obs_high,
    )
    return model, tuple(obs_space.shape)


# --- the action distribution (train.py uses these too) ------------------------------------


def sample(out, key):
    if isinstance(out, tuple):
        mean, log_std = out
        return mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
    return jax.random.categorical(key, out)


def log_prob(out, action):
    if isinstance(out, tuple):
        mean, log_std = out
        z = (action - mean) / jnp.exp(log_std)
        return jnp.sum(-0.5 * z**2 - log_std - 0.5 * jnp.log(2 * jnp.pi), axis=-1)
    logp = jax.nn.log_softmax(out)
    return jnp.take_along_axis(logp, action[..., None].astype(jnp.int32), axis=-1)[..., 0]


def entropy(out):
    if isinstance(out, tuple):
        _, log_std = out
        return jnp.sum(log_std + 0.5 * jnp.log(2 * jnp.pi * jnp.e), axis=-1)
    logp = jax.nn.log_softmax(out)
    return -jnp.sum(jnp.exp(logp) * logp, axis=-1)


# --- what the grader calls ----------------------------------------------------------------

_net: ActorCritic | None = None
_apply = None
_params: dict[int, dict] = {}
_std_scale = 1.0


def load(ckpt: int):
    """The parameters of checkpoint `ckpt`, restored once."""
    global _net, _apply
    global _std_scale
    if _net is None:
        config = yaml.safe_load((HERE / "config.yaml").read_text())
        # continuous actions: the spread the grader samples with, relative to training's
        _std_scale = float(config.get("eval_std_scale", 1.0))
        _net, obs_shape = make_network(config)
        _apply = jax.jit(_net.apply)
        _params["template"] = _net.init(jax.random.PRNGKey(0), jnp.zeros((1, *obs_shape)))
    if ckpt not in _params:
        data = (HERE / "checkpoints" / f"ckpt-{ckpt}.msgpack").read_bytes()
        _params[ckpt] = flax.serialization.from_bytes(_params["template"], data)
    return _params[ckpt]


def policy(ckpt, obs):
    params = load(int(ckpt))
    out, _ = _apply(params, jnp.asarray(obs, jnp.float32))
    if isinstance(out, tuple):
        mean, log_std = out
        return np.asarray(mean), np.asarray(jnp.exp(log_std)) * _std_scale
    return np.asarray(out)
