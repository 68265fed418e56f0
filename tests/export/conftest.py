"""Real runs to export, made once per session: the runner, rgym's research agent over HTTP to
the fake OpenAI-compatible server (text and tool-calling protocols), a replayed run, and a run
whose submission cannot be scored; real bwrap sandboxes and the real grader of the quickest task
(prisoners-dilemma:tiny, whose starter strategy is a valid artefact). Each model-driven run
keeps the requests the server received: the truth the exports are checked against."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from rgym.runs.runner import RunConfig, run
from tests.fake_llm import FakeLLM, tool_call

TASK, VARIANT = "prisoners-dilemma", "tiny"
DEFECT = "printf 'def row_strategy(history):\\n    return 1\\n' > strategy.py"
"""A valid artefact that always defects."""


def block(cmd: str, thought: str = "Next step.") -> str:
    return f"{thought}\n```\n{cmd}\n```"


TEXT_SCRIPT = [
    block("ls", "Look around first."),
    "I will think without a command.",  # unusable: re-asked
    block(DEFECT, "Always defect, to start."),
    block("memory_write always defecting is a safe start", "Note what I learnt."),
    block("validate"),
    block("cat strategy.py"),
    block("submit", "Good enough."),
]
TOOLS_SCRIPT = [
    tool_call("bash", command="ls"),
    tool_call("bash", command=DEFECT),
    {"content": "Score it on the dev split.", "tool_calls": tool_call("validate")["tool_calls"]},
    {  # two calls at once: re-asked
        "content": "Two calls at once.",
        "tool_calls": tool_call("bash", command="ls")["tool_calls"]
        + tool_call("submit")["tool_calls"],
    },
    tool_call("submit"),
]


class Runs:
    """The session's run folders (each holds requests.json when a model drove it)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.text = self.tools = self.replay = self.unscorable = Path()

    def requests(self, run_dir: Path) -> list[dict]:
        return json.loads((run_dir / "requests.json").read_text())

    def copy(self, run_dir: Path, into: Path) -> Path:
        """A copy of a run folder (for tests that change or break one)."""
        dst = into / run_dir.name
        shutil.copytree(run_dir, dst, ignore=shutil.ignore_patterns("requests.json"))
        return dst

    def older(self, run_dir: Path, into: Path) -> Path:
        """A copy of a run as rgym recorded it before the agent recorded what it sends (no
        `message` or `context_fit` events): its transcript can only be rebuilt."""
        dst = self.copy(run_dir, into)
        events = (dst / "events.jsonl").read_text().splitlines()
        kept = [e for e in events if json.loads(e)["type"] not in ("message", "context_fit")]
        assert len(kept) < len(events), f"{run_dir} recorded no messages"
        (dst / "events.jsonl").write_text("\n".join(kept) + "\n")
        return dst


def _agent_run(root: Path, script: list, **options) -> Path:
    with FakeLLM(script) as llm:
        options = {"api_base": llm.url + "/v1", "retry": {"backoff_s": 0.01}, **options}
        result = run(
            RunConfig(
                task=TASK,
                variant=VARIANT,
                agent="default",
                model="fake",
                runs_dir=root,
                agent_options=options,
            )
        )
    (result.run_dir / "requests.json").write_text(json.dumps(llm.requests))
    return result.run_dir


@pytest.fixture(scope="session")
def runs(tmp_path_factory, rgym_cache) -> Runs:
    """Four finished runs under one folder (about 15 s, once per session; the memory note
    goes to the session's data cache)."""
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    root = tmp_path_factory.mktemp("export-runs")
    out = Runs(root / "runs")
    out.text = _agent_run(out.root, TEXT_SCRIPT, memory=True, history_keep=2)
    out.tools = _agent_run(out.root, TOOLS_SCRIPT, protocol="tools")
    out.unscorable = _agent_run(out.root, [block("rm -f strategy.py"), block("submit")])
    actions = root / "actions.yaml"
    actions.write_text(
        yaml.safe_dump(
            [
                {"action": "ls", "thought": "See what is there."},
                {"action": DEFECT, "thought": "Always defect."},
                "validate",
                "submit",
            ]
        )
    )
    result = run(RunConfig(task=TASK, variant=VARIANT, actions=actions, runs_dir=out.root))
    out.replay = result.run_dir
    return out
