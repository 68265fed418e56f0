"""Fixtures for the agent's tests: a data cache for the session, an isolated memory folder per
test, and a helper that runs a whole episode through the runner against the fake LLM server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rgym.budget import Budget
from rgym.runs.record import iter_events
from rgym.runs.runner import RunConfig, run
from tests.fake_llm import FakeLLM


@pytest.fixture(scope="session", autouse=True)
def agent_cache(rgym_cache):
    """RGYM_CACHE is a session tmp dir (set by the root conftest, which this builds on so the
    task data is prepared once); the agent's tools folder and memory notes go there too."""
    mp = pytest.MonkeyPatch()
    mp.setenv("RGYM_CACHE", str(rgym_cache))
    yield Path(rgym_cache)
    mp.undo()


@pytest.fixture
def memory_dir(agent_cache, tmp_path, monkeypatch):
    """A cache of its own for a test that writes memory notes (the data stays shared)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    for item in agent_cache.iterdir():
        if item.name == "key":  # rgym refuses a key that is a link: copy it, private
            (cache / "key").write_bytes(item.read_bytes())
            (cache / "key").chmod(0o600)
        elif item.name != "memory":
            (cache / item.name).symlink_to(item)
    monkeypatch.setenv("RGYM_CACHE", str(cache))
    return cache / "memory"


class Episode:
    def __init__(self, result, llm: FakeLLM):
        self.result, self.llm = result, llm
        self.events = list(iter_events(result.run_dir))

    def of(self, type_: str) -> list[dict]:
        return [e for e in self.events if e["type"] == type_]

    def ledger_sums(self) -> dict:
        calls = self.of("model_call")
        return {
            "model_calls": len(calls),
            **{
                k: sum(c[k] for c in calls)
                for k in ("prompt_tokens", "completion_tokens", "cost_usd")
            },
        }

    def manifest(self) -> dict:
        return json.loads((self.result.run_dir / "manifest.json").read_text())


@pytest.fixture
def episode(tmp_path):
    """episode(script, budget=..., **agent_options) -> Episode: one run of the default agent on
    titanic (real bwrap sandbox, real grader) against a scripted fake LLM server."""

    def go(script, *, budget: Budget | None = None, model: str = "fake", **options) -> Episode:
        with FakeLLM(script) as llm:
            opts = {"api_base": llm.url + "/v1", "retry": {"backoff_s": 0.01}, **options}
            result = run(
                RunConfig(
                    task="titanic",
                    agent="default",
                    model=model,
                    agent_options=opts,
                    runs_dir=tmp_path / "runs",
                    budget=budget or Budget(),
                )
            )
        return Episode(result, llm)

    return go
