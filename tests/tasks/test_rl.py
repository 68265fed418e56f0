"""The RL family: rl-breakout, rl-meta-maze, rl-mountain-car and rl-mountain-car-reinforce.

The grader owns the environment, the loop and the dice (src/rgym/tasks/catalog/_rl/rl_rollout.py);
the agent's policy folder only answers `policy(ckpt, obs)` from its own sandbox. In-process
tests check the rollout and its checks; the tests through real sandboxes use the `tiny` variant
(a few training steps, a few 20-step episodes) and policies written in plain numpy where the
network does not matter, so that the model server starts fast. The default variants are
trained in the slow tests.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import time

import numpy as np
import pytest

from rgym.grading.runner import GradeStatus
from rgym.tasks.registry import get_task
from rgym.tasks.verify import score_solution, verify_task
from tests.conftest import unmeasured
from tests.tasks.conftest import requires_bwrap

TASKS = ["rl-breakout", "rl-meta-maze", "rl-mountain-car", "rl-mountain-car-reinforce"]
PPO_TASKS = ["rl-breakout", "rl-meta-maze", "rl-mountain-car"]
MLGYM_BASELINES = {"rl-breakout": 48.817, "rl-meta-maze": 15.734, "rl-mountain-car": 33.794}
"""MLGym's published full-budget baselines (MountainCar's with episodes cut at 200 steps)."""


def load(name: str, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def root(task: str):
    return get_task(task).root


SHARED = root(TASKS[0]).parent / "_rl"
rl = load("rgym_test_rl_rollout", SHARED / "rl_rollout.py")


# --- the task folders ---------------------------------------------------------------------------


def test_every_rl_task_lays_out_the_one_shared_rollout_network_and_ppo(tmp_path):
    """One rollout, one network file, one PPO, kept once in catalog/_rl: a task's own starter
    holds only its config (and the broken task its broken train.py)."""
    shared = SHARED / "starter"
    for task in TASKS:
        spec = get_task(task)
        ws = tmp_path / task
        ws.mkdir()
        spec.lay_out(spec.starter, ws)
        assert (ws / "rl_rollout.py").read_bytes() == (SHARED / "rl_rollout.py").read_bytes()
        assert (ws / "policy" / "model.py").read_bytes() == (
            shared / "policy/model.py"
        ).read_bytes()
        assert (ws / "evaluate.py").read_bytes() == (shared / "evaluate.py").read_bytes()
        assert (ws / "config.yaml").read_bytes() == (spec.root / "starter/config.yaml").read_bytes()
        ppo = (ws / "train.py").read_bytes() == (shared / "train.py").read_bytes()
        assert ppo == (task in PPO_TASKS), task
        assert (
            spec.graders.test.script == "../_rl/grade.py"
            and spec.data.recipe == "../_rl/prepare.py"
        )
    # the broken starter's fix: the PPO of the other tasks in place of its algorithm, nothing else
    reinforce = get_task("rl-mountain-car-reinforce")
    assert [p.resolve() for p in reinforce.entry_paths(reinforce.reference.files)] == [
        shared / "train.py"
    ]
    assert (reinforce.root / "starter" / "config.yaml").read_bytes() == (
        root("rl-mountain-car") / "starter" / "config.yaml"
    ).read_bytes()


def test_the_broken_starter_still_says_ppo_but_has_no_critic_and_no_clipping():
    source = (root("rl-mountain-car-reinforce") / "starter" / "train.py").read_text()
    assert "Proximal Policy Optimisation" in source.split('"""')[1]  # as in MLGym: the text lies
    assert "clip_eps" not in source and "vf_coef" not in source and "gae_lambda" not in source
    config = (root("rl-mountain-car-reinforce") / "starter" / "config.yaml").read_text()
    assert "clip_eps" in config and "vf_coef" in config  # read by nothing


def test_variants_size_training_and_evaluation_as_documented():
    for task in TASKS:
        spec = get_task(task)
        assert spec.stack.modules == ["jax", "flax", "optax", "gymnax"] and spec.stack.extra == "rl"
        full = spec.variant("full")
        assert full.requires == ["gpu"] and full.resources.gpus == 1
        assert (full.data["eval_seeds"], full.data["eval_envs"]) == (5, 256)  # MLGym's
        assert full.data["train"]["total_timesteps"] >= 10_000_000
        assert full.data.get("max_episode_steps") is None  # the environment's own length
        assert spec.variant("tiny").data["max_episode_steps"] <= 20
    for task in ("rl-mountain-car", "rl-mountain-car-reinforce"):  # MLGym's cut, on request
        mlgym = get_task(task).variant("mlgym")
        assert mlgym.data["max_episode_steps"] == 200
        assert mlgym.data["train"] == get_task(task).variant("full").data["train"]


# --- the rollout, in-process --------------------------------------------------------------------


def discrete_space(n=3):
    class Space:
        pass

    s = Space()
    s.n = n
    return s


def box_space(low=-1.0, high=1.0, dim=1):
    class Space:
        shape = (dim,)

    s = Space()
    s.low, s.high = np.full(dim, low), np.full(dim, high)
    return s


def test_the_grader_samples_discrete_actions_from_softmax_of_the_logits():
    probs = np.array([0.7, 0.2, 0.1])
    logits = np.tile(np.log(probs), (50_000, 1))
    actions = rl.ActionSampler(discrete_space(), 50_000, np.random.default_rng(0)).sample(
        logits, "policy"
    )
    assert actions.dtype == np.int32
    freq = np.bincount(actions, minlength=3) / actions.size
    assert np.abs(freq - probs).max() < 0.01
    # its own dice: the same logits give the same actions for the same seed only
    again = rl.ActionSampler(discrete_space(), 50_000, np.random.default_rng(0)).sample(logits, "")
    other = rl.ActionSampler(discrete_space(), 50_000, np.random.default_rng(1)).sample(logits, "")
    assert (again == actions).all() and (other != actions).any()
    # a policy cannot pick the action itself: a one-hot "choice" is only a mild preference
    one_hot = np.tile([1.0, 0.0, 0.0], (50_000, 1))
    chosen = rl.ActionSampler(discrete_space(), 50_000, np.random.default_rng(2)).sample(
        one_hot, ""
    )
    assert 0.4 < (chosen == 0).mean() < 0.65


def test_the_grader_samples_continuous_actions_from_the_gaussian():
    mean, std = np.full((50_000, 1), 0.25), np.full((50_000, 1), 0.5)
    a = rl.ActionSampler(box_space(), 50_000, np.random.default_rng(0)).sample((mean, std), "")
    assert a.shape == (50_000, 1) and a.dtype == np.float32
    assert abs(a.mean() - 0.25) < 0.01 and abs(a.std() - 0.5) < 0.01
    assert (np.abs(a) > 1).any()  # passed on as sampled: the environment clips and charges
    wild = rl.ActionSampler(box_space(), 100, np.random.default_rng(0)).sample(
        (np.zeros((100, 1)), np.full((100, 1), 1e30)), ""
    )
    assert np.isfinite(wild).all() and np.abs(wild).max() == rl.MAX_ACTION  # costs stay finite


BATCH = 4
GOOD_LOGITS = np.zeros((BATCH, 3))
GOOD_GAUSS = (np.zeros((BATCH, 1)), np.ones((BATCH, 1)))


@pytest.mark.parametrize(
    ("space", "answer", "message"),
    [
        (discrete_space(), np.zeros((BATCH, 4)), r"shape \(4, 4\).*3 actions"),
        (discrete_space(), np.zeros(BATCH), r"shape \(4,\)"),
        (discrete_space(), np.full((BATCH, 3), np.nan), "12 NaN"),
        (discrete_space(), np.array([[0, 0, np.inf]] * BATCH), "infinite"),
        (discrete_space(), (GOOD_LOGITS, GOOD_LOGITS), "discrete"),
        (discrete_space(), np.array([["a", "b", "c"]] * BATCH), "dtype"),
        (box_space(), np.zeros((BATCH, 1)), r"continuous: expected a pair \(mean, std\)"),
        (box_space(), (np.zeros((BATCH, 2)), np.ones((BATCH, 2))), r"mean of shape \(4, 2\)"),
        (box_space(), (np.zeros((BATCH, 1)), np.zeros((BATCH, 1))), "std <= 0"),
        (box_space(), (np.zeros((BATCH, 1)), -np.ones((BATCH, 1))), "std <= 0"),
        (box_space(), (np.full((BATCH, 1), np.nan), np.ones((BATCH, 1))), "mean with 4 NaN"),
        (box_space(), (np.full((BATCH, 1), 1.5), np.ones((BATCH, 1))), r"outside.*\[-1, 1\]"),
        (box_space(), (np.zeros((BATCH, 1)), np.ones((BATCH, 1)), 0), "3 values"),
    ],
)
def test_unusable_answers_are_rejected_with_a_reason(space, answer, message):
    sampler = rl.ActionSampler(space, BATCH, np.random.default_rng(0))
    with pytest.raises(rl.BadPolicy, match=message):
        sampler.sample(answer, "policy(0, obs)")
    good = GOOD_LOGITS if hasattr(space, "n") else GOOD_GAUSS
    assert sampler.sample(good, "policy").shape[0] == BATCH


def test_evaluation_seeds_are_secret_and_differ_between_dev_and_test():
    dev, test = rl.evaluation_seeds(123, "dev", 5), rl.evaluation_seeds(123, "test", 5)
    assert len(set(dev)) == 5 and not set(dev) & set(test)
    assert dev == rl.evaluation_seeds(123, "dev", 5)  # deterministic for a key
    assert dev != rl.evaluation_seeds(124, "dev", 5)
    assert rl.sampling_seed(123, "dev") != rl.sampling_seed(123, "test")


def test_a_return_sums_the_rewards_of_one_episode_up_to_its_cut():
    """MountainCar without reaching the flag: each step costs 0.1 x action^2, for exactly
    max_episode_steps steps; the grader's sample of a near-deterministic policy is its mean."""
    protocol = rl.Protocol(
        "MountainCarContinuous-v0",
        num_checkpoints=2,
        seeds=[1, 2],
        envs_per_seed=3,
        max_episode_steps=7,
    )

    def policy(ckpt, obs, timeout):
        n = obs.shape[0]
        return np.full((n, 1), 0.5 if ckpt == 0 else 1.0), np.full((n, 1), 1e-6)

    m = rl.rollout(policy, protocol, sample_seed=0)
    assert m["episodes"] == 12 and m["episode_length_mean"] == 7
    assert m["checkpoint_0_mean"] == pytest.approx(-7 * 0.1 * 0.25, rel=1e-4)
    assert m["checkpoint_1_mean"] == pytest.approx(-7 * 0.1 * 1.0, rel=1e-4)
    assert m["env_steps"] == 2 * 6 * 7


def test_rollouts_repeat_exactly_and_depend_on_the_graders_sampling_seed():
    protocol = rl.Protocol("MetaMaze-misc", num_checkpoints=1, seeds=[5, 6], envs_per_seed=8)

    def uniform(ckpt, obs, timeout):
        return np.zeros((obs.shape[0], 4))

    a = rl.rollout(uniform, protocol, sample_seed=1)
    assert a["episode_length_mean"] == 200  # the environment's own episode length
    b = rl.rollout(uniform, protocol, sample_seed=1)
    c = rl.rollout(uniform, protocol, sample_seed=2)
    assert a["return_mean"] == b["return_mean"]
    assert a["return_mean"] != c["return_mean"]


def test_a_policy_slower_than_the_time_limit_is_rejected():
    protocol = rl.Protocol(
        "MetaMaze-misc", num_checkpoints=1, seeds=[1], envs_per_seed=2, time_limit=0.2
    )

    def slow(ckpt, obs, timeout):
        time.sleep(0.05)
        return np.zeros((obs.shape[0], 4))

    with pytest.raises(rl.BadPolicy, match=r"more than the 0.2 s allowed"):
        rl.rollout(slow, protocol, sample_seed=0)


# --- through the real graders (tiny) ------------------------------------------------------------

NUMPY_POLICY = """
import numpy as np

def policy(ckpt, obs):
    n = obs.shape[0]
{body}
"""


def numpy_policy(body: str, checkpoints: int = 5) -> dict[str, str]:
    """A policy folder whose model.py needs numpy only (the server starts in a blink)."""
    files = {"policy/model.py": NUMPY_POLICY.format(body=body)}
    for i in range(checkpoints):
        files[f"policy/checkpoints/ckpt-{i}.bin"] = "x"
    return files


UNIFORM = "    return np.zeros((n, 3))"
GAUSS = "    return np.zeros((n, 1)), np.full((n, 1), 0.5)"
SLOW_AFTER_FIRST_CALL = """    global calls
    calls = globals().get("calls", 0) + 1
    if calls > 1:  # tiny's later calls may take 5 s
        import time
        time.sleep(30)
    return np.zeros((n, 3))"""


@requires_bwrap
@pytest.mark.parametrize(
    ("task", "body"),
    [pytest.param("rl-breakout", UNIFORM, marks=pytest.mark.slow), ("rl-mountain-car", GAUSS)],
)
def test_a_plain_policy_is_graded_and_dev_and_test_differ(grade_files, task, body):
    dev = grade_files(task, numpy_policy(body))
    assert dev.ok, dev.message
    assert dev.metrics["episodes"] == 5 * 2 * 4
    assert dev.metrics["episode_length_mean"] <= 20
    test = grade_files(task, numpy_policy(body), split="test")
    assert test.ok, test.message
    if task == "rl-mountain-car":  # 20 steps, no flag: the costs of the sampled actions only
        # other seeds (Breakout's 40 short returns are small whole numbers and may tie)
        assert test.metrics["return_mean"] != dev.metrics["return_mean"]
        assert -20 * 0.1 * 0.25 * 3 < dev.score < 0


BAD = [
    ("rl-breakout", numpy_policy(UNIFORM, checkpoints=3), "holds 3 file"),
    ("rl-breakout", {"policy/model.py": NUMPY_POLICY.format(body=UNIFORM)}, "holds 0 file"),
    ("rl-breakout", numpy_policy("    raise ValueError('no weights')"), "no weights"),
    (
        "rl-breakout",
        {**numpy_policy(UNIFORM), "policy/model.py": "import nonexistent_module_x\n"},
        "importing model.py failed",
    ),
    ("rl-breakout", numpy_policy("    import os\n    os._exit(3)"), "exited"),
    (
        "rl-breakout",
        numpy_policy(SLOW_AFTER_FIRST_CALL),
        "did not answer in time",
    ),
    ("rl-breakout", numpy_policy("    return np.full((n, 3), np.nan)"), "NaN"),
    ("rl-breakout", numpy_policy("    return np.zeros((n, 4))"), "3 actions"),
    ("rl-breakout", numpy_policy("    return 'left'"), "not arrays"),
    (
        "rl-mountain-car",
        numpy_policy("    return np.full((n, 1), 2.0), np.ones((n, 1))"),
        "outside the action space",
    ),
    ("rl-mountain-car", numpy_policy("    return np.zeros((n, 1)), np.zeros((n, 1))"), "std <= 0"),
    ("rl-mountain-car", numpy_policy(UNIFORM), "continuous"),
]


IN_DEFAULT_SUITE = {"holds 3 file", "outside the action space", "NaN"}
"""The RL-specific checks (checkpoint count, action space, NaN) run in the default suite; the
rest, whose model-server side (slow, crashed, not arrays, import failure) is in the default
suite through tests/grading/test_model_server.py, run here in the slow one (each grading
imports JAX in two sandboxes, 10-20 s)."""


@requires_bwrap
@pytest.mark.parametrize(
    ("task", "files", "message"),
    [
        pytest.param(*bad, marks=[] if bad[2] in IN_DEFAULT_SUITE else [pytest.mark.slow])
        for bad in BAD
    ],
    ids=[f"{t}-{m}" for t, _, m in BAD],
)
def test_bad_policy_folders_get_an_invalid_outcome_saying_why(grade_files, task, files, message):
    g = grade_files(task, files)
    assert g.status == GradeStatus.invalid_artifact, (g.status, g.message)
    assert message in g.message


@requires_bwrap
@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_the_tiny_baseline_trains_and_grades(task):
    spec = get_task(task)
    with unmeasured():  # as when measuring: the episode must not measure it first
        result = score_solution(spec, spec.baseline, "tiny")
    assert result.status == "ok", result.message
    assert np.isfinite(result.score)


# --- the default variants (slow) ----------------------------------------------------------------


@requires_bwrap
@pytest.mark.slow
@pytest.mark.parametrize("task", PPO_TASKS)
def test_verify_default(task):
    row = verify_task(get_task(task))
    assert row.ok, row.problems
    for run in (row.baseline, row.reference):
        assert run.seconds < 420  # training and grading, with a margin over 5 minutes


@requires_bwrap
@pytest.mark.slow
def test_the_reinforce_starter_is_clearly_worse_than_the_fixed_one():
    row = verify_task(get_task("rl-mountain-car-reinforce"))
    assert row.ok, row.problems
    assert row.reference.score - row.baseline.score > 20, (row.baseline, row.reference)


def test_eval_std_scale_narrows_only_the_spread_the_grader_samples_from(tmp_path):
    """The rl-mountain-car reference's one change: policy/config.yaml's eval_std_scale."""
    import flax.serialization
    import jax
    import jax.numpy as jnp
    import yaml

    ref = yaml.safe_load((root("rl-mountain-car") / "reference" / "config.yaml").read_text())
    assert ref["eval_std_scale"] == 0.1
    config = {"env_name": "MountainCarContinuous-v0", "network": {"hidden": 8, "layers": 1}}
    answers = []
    for scale in (None, 0.1):
        folder = tmp_path / f"policy-{scale}"
        shutil.copytree(SHARED / "starter" / "policy", folder)
        cfg = config if scale is None else {**config, "eval_std_scale": scale}
        (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
        model = load(f"rgym_test_rl_model_{scale}", folder / "model.py")
        net, obs_shape = model.make_network(cfg)
        params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, *obs_shape)))
        (folder / "checkpoints").mkdir()
        (folder / "checkpoints" / "ckpt-0.msgpack").write_bytes(flax.serialization.to_bytes(params))
        answers.append(model.policy(np.array(0), np.zeros((3, 2), np.float32)))
    (mean, std), (mean_scaled, std_scaled) = answers
    np.testing.assert_array_equal(mean, mean_scaled)
    np.testing.assert_allclose(std_scaled, 0.1 * std, rtol=1e-6)
