"""rgym in SkyRL-gym's rollout loop, stepped over `rgym serve`, a scripted policy standing in
for the model.

SkyRL trains on text environments through `skyrl_gym.envs.base_text_env.BaseTextEnv`: the
generator calls `env.init(prompt)` for the first observation, then, turn after turn, gives
the model's reply to `env.step(reply)` and appends the returned observations to the chat,
until `done`; the last step's reward is what the trainer learns from. `RgymTextEnv` is that
interface over one rgym episode on a server (`rgym.serve.client.RemoteEnv`): the reply's last
fenced code block (or the whole reply) is the action; the reward is rgym's, 0 until the final
step, then the normalised test score. The scripted policy answers with the task's own
demonstration, as a model would write it.

Run it against a server:

    rgym serve --task battle-of-sexes &
    python examples/skyrl_rgym.py --url http://127.0.0.1:8000

or on its own (starts a server on a free loopback port in this process):

    python examples/skyrl_rgym.py

CPU only; no model weights, no network.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

import skyrl_gym
from skyrl_gym.envs.base_text_env import BaseTextEnv, BaseTextEnvStepOutput, ConversationType

import rgym
from rgym.serve.client import RemoteEnv

ENV_ID = "rgym"
FENCED = re.compile(r"```(?:[a-z]*)\n(.*?)```", re.DOTALL)

SYSTEM = {
    "role": "system",
    "content": "You are a research agent. Answer with one ```bash``` block per turn: a shell "
    "command, `validate` or `submit`.",
}


class RgymTextEnv(BaseTextEnv):
    """One rgym episode, served by `rgym serve`, as a SkyRL-gym text environment.

    env_config: `url` of the server and its `token` (if any). extras (per prompt, as SkyRL
    passes a dataset row's): `task`, `variant`, `max_turns`.
    """

    def __init__(self, env_config: dict[str, Any], extras: dict[str, Any] | None = None):
        super().__init__()
        extras = extras or {}
        self.remote = RemoteEnv(
            env_config["url"],
            extras["task"],
            variant=extras.get("variant", "default"),
            token=env_config.get("token"),
            max_steps=extras.get("max_turns"),
        )
        self.max_turns = extras.get("max_turns") or 30
        self.last_info: dict[str, Any] = {}

    def init(self, prompt: ConversationType) -> tuple[ConversationType, dict[str, Any]]:
        task_prompt, info = self.remote.reset()
        self.last_info = info
        return [*prompt, {"role": "user", "content": task_prompt}], {"task": info["task"]}

    def step(self, action: str) -> BaseTextEnvStepOutput:
        self.turns += 1
        command = parse_action(action)
        observation, reward, terminated, truncated, info = self.remote.step(command)
        self.last_info = info
        done = terminated or truncated
        return BaseTextEnvStepOutput(
            observations=[] if done else [{"role": "user", "content": observation}],
            reward=reward,
            done=done,
            metadata={"exit_status": info["exit_status"], "dev_score": info["dev_score"]},
            postprocessed_action=command,
        )

    def get_metrics(self) -> dict[str, Any]:
        info = self.last_info
        return {
            "steps": info.get("budget", {}).get("steps", 0),
            "best_dev_score": info.get("best_dev_score"),
            "normalised_test_score": info.get("normalised_test_score"),
        }

    def close(self) -> None:
        self.remote.close()


def parse_action(reply: str) -> str:
    """The last fenced code block of a model's reply (a heredoc keeps its last newline), else
    the whole reply."""
    blocks = FENCED.findall(reply)
    return blocks[-1] if blocks else reply.strip()


class ScriptedPolicy:
    """Stands in for the model: answers each turn with the next scripted reply."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = iter(replies)

    def __call__(self, chat: ConversationType) -> str:
        return next(self.replies)

    @classmethod
    def from_demonstration(cls, task: str) -> ScriptedPolicy:
        """Replies a model might give, made from the task's demonstration (the actions
        `rgym run <task>` replays): its thought, then its action in a fenced block."""
        from rgym.agent.replay import load_actions

        spec = rgym.spec(task)
        if not spec.demo:
            raise SystemExit(f"task {task!r} ships no demonstration to script a policy from")
        replies = [
            f"{step['thought']}\n```bash\n{step['action'].rstrip()}\n```"
            for step in load_actions(spec.path(spec.demo))
        ]
        return cls(replies)


def rollout(env: BaseTextEnv, policy: ScriptedPolicy, prompt: ConversationType) -> dict[str, Any]:
    """SkyRL's generator loop, without the model server: init, then step until done."""
    chat, _ = env.init(prompt)
    rewards: list[float] = []
    done = False
    while not done and env.turns < env.max_turns:
        reply = policy(chat)
        out = env.step(reply)
        chat = [*chat, {"role": "assistant", "content": reply}, *out["observations"]]
        rewards.append(float(out["reward"]))
        done = out["done"]
        shown = out["postprocessed_action"].splitlines()[0][:60]
        print(f"turn {env.turns}: $ {shown}  reward {out['reward']:.4f}  done {done}")
    return {"reward": rewards[-1] if rewards else 0.0, "turns": env.turns, **env.get_metrics()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running `rgym serve` (default: start one here)")
    parser.add_argument("--token", help="its token, if it has one")
    parser.add_argument("--task", default="battle-of-sexes")
    parser.add_argument("--variant", default="default")
    args = parser.parse_args()

    server = None
    if args.url is None:
        from rgym.serve.config import ServeConfig
        from rgym.serve.server import start_in_thread

        server = start_in_thread(ServeConfig(port=0, tasks=[args.task]))
        args.url = server.url
    skyrl_gym.register(id=ENV_ID, entry_point=RgymTextEnv)
    env = skyrl_gym.make(
        ENV_ID,
        env_config={"url": args.url, "token": args.token},
        extras={"task": args.task, "variant": args.variant, "max_turns": 10},
    )
    try:
        result = rollout(env, ScriptedPolicy.from_demonstration(args.task), [SYSTEM])
    finally:
        env.close()
        if server is not None:
            server.stop()
    print(
        f"reward {result['reward']:.4f} after {result['turns']} turns (normalised test score "
        f"{result['normalised_test_score']:.4f}; best dev {result['best_dev_score']:.4f})"
    )


if __name__ == "__main__":
    main()
