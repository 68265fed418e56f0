"""The default agent's own overhead per step: prompt building, history fitting, the ledger's
checks and event, parsing — everything but the model and the command.

The model is the scripted one (answers instantly) and the env is a stub that returns a canned
observation at once (a stub is the point here: the sandbox and the model are measured elsewhere).
Overhead of step i = time from env.step(i) returning to env.step(i + 1) being called. Events go
through json.dumps into an in-memory buffer, as the run record would serialise them.

Target: median under 5 ms per step once the history holds 50 steps.

    .venv/bin/python benchmarks/bench_agent_step.py [--steps 100] [--obs-chars 2000]
        [--protocol text|tools] [--repeats 3]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from types import SimpleNamespace

from rgym.agent.config import AgentConfig
from rgym.agent.loop import DefaultAgent
from rgym.budget import Budget
from rgym.models import ScriptedModel


class StubRecord:
    def __init__(self) -> None:
        self.buf = io.StringIO()

    def event(self, type_: str, **data) -> None:
        self.buf.write(json.dumps({"type": type_, **data}, default=str) + "\n")


class StubEnv:
    """Just what the agent reads from a ResearchEnv; every step answers instantly."""

    def __init__(self, steps: int, obs_chars: int) -> None:
        self.budget = Budget(max_steps=steps + 1, max_wall_seconds=3600, max_validations=10)
        self.steps = self.validations = 0
        self.record = StubRecord()
        self.spec_ = SimpleNamespace(id="bench")
        self.variant = SimpleNamespace(limits=SimpleNamespace(command_timeout=300))
        self.obs = ("epoch 1 loss 0.6931 acc 0.5123\n" * (obs_chars // 32 + 1))[:obs_chars]
        self.entered: list[float] = []
        self.left: list[float] = []
        self.exit_status = None

    def step(self, action: str):
        self.entered.append(time.perf_counter())
        self.steps += 1
        done = action.strip() == "submit"
        self.left.append(time.perf_counter())
        return self.obs, 0.0, done, False, {}

    def exhaust(self, kind: str):
        self.exit_status = f"auto_submitted:{kind}"
        return "exhausted", 0.0, {}


def one_run(steps: int, obs_chars: int, protocol: str) -> list[float]:
    if protocol == "tools":
        call = {
            "tool_calls": [
                {"id": "c", "name": "bash", "arguments": json.dumps({"command": "python train.py"})}
            ],
            "content": "Train again with a lower learning rate.",
        }
        replies = [call] * steps + [{"tool_calls": [{"id": "s", "name": "submit"}]}]
    else:
        replies = ["Train again with a lower learning rate.\n```\npython train.py\n```"] * steps
        replies.append("Done.\n```\nsubmit\n```")
    env = StubEnv(steps, obs_chars)
    agent = DefaultAgent(ScriptedModel(replies), AgentConfig(protocol=protocol))
    agent.run(
        env, "# Task: bench\n" + "Describe the task. " * 100, {"budget": {"wall_seconds": 0.0}}
    )
    return [b - a for a, b in zip(env.left, env.entered[1:], strict=False)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--obs-chars", type=int, default=2000)
    p.add_argument("--protocol", choices=["text", "tools"], default="text")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    one_run(10, args.obs_chars, args.protocol)  # warm up: templates compiled, imports done
    early, late, everything = [], [], []
    for _ in range(args.repeats):
        gaps = one_run(args.steps, args.obs_chars, args.protocol)
        early += gaps[:10]
        late += gaps[49:]  # the history already holds >= 50 steps
        everything += gaps
    ms = [x * 1000 for x in late]
    print(
        f"protocol={args.protocol} steps={args.steps} obs_chars={args.obs_chars} "
        f"repeats={args.repeats}"
    )
    print(f"  steps 1-10   median {statistics.median(early) * 1000:.3f} ms")
    print(
        f"  steps >= 50  median {statistics.median(ms):.3f} ms  p90 "
        f"{statistics.quantiles(ms, n=10)[-1]:.3f} ms  max {max(ms):.3f} ms"
    )
    print(f"  all steps    median {statistics.median(everything) * 1000:.3f} ms")
    verdict = "OK" if statistics.median(ms) < 5 else "SLOW"
    print(f"  target: median < 5 ms with a 50-step history -> {verdict}")


if __name__ == "__main__":
    main()
