"""MLGym trajectories (`<task>.traj`) and run folders: replayed as rgym actions, and task ids.

An MLGym run folder holds `<task>.traj` (JSON: `trajectory`, a list of steps with `action`,
`observation`, `thought`, ...; `history`; `info` with `exit_status` and `score`, the metrics of
every validation and of the final evaluation) and `results.json` (`agent`: the same metrics,
`baseline`). :func:`read_trajectory` turns the steps' actions into the actions rgym's replay
agent plays, in order, and says what it changed and what it left out:

- `validate` and `submit` stay what they are (rgym's env recognises both);
- `edit <a>:<b>` / `insert <n>` followed by their text and `end_of_edit` / `end_of_insert`
  become the heredocs rgym's tools read (MLGym's agent rewrites them the same way before
  running them); an `edit <a>:<b>` without `end_of_edit` is left out, since MLGym refused it
  without running anything ("malformed edit");
- MLGym's synthetic endings (`exit_format`, `exit_context`, `exit_cost`, `exit_api`,
  `exit_error`) end the replay with the artefact scored as it is, as MLGym did; `skip` and
  `exit_forfeit` stop it;
- in a run MLGym ended on its step limit, the last step's action was never run (MLGym stops
  before running the step past the limit), so it is left out and the replay ends there;
- memory and literature-search commands (MLGym's optional tools) are left out;
- an action bash cannot parse is left out: MLGym checks each one with `bash -n` first and
  runs none that fails (an agent may put a file's text after `create` without a heredoc);
- everything else is a shell command and is passed on unchanged.

MLGym's edits name lines of the files as its agent saw them, and a task's starter files may
differ (rgym's own version of a game, or MLGym's files since a header was added), or be missing
(MLGym's evaluate.py, which an edit may hit when it is the open file). So the trajectory also
yields `views`: each file its agent saw whole in its viewer before its first edit; the replay
agent writes them back to that content in one recorded action before the first one, and says
so in a note.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rgym.errors import ConfigError

#: MLGym task id -> rgym's built-in task of the same game or dataset.
MLGYM_TO_RGYM: dict[str, str] = {
    "battleOfSexes": "battle-of-sexes",
    "prisonersDilemma": "prisoners-dilemma",
    "blotto": "blotto",
    "3SATTime": "sat-heuristic",
    "regressionKaggleHousePrice": "house-price",
    "regressionKaggleHousePriceL1": "house-price-l1",
    "titanicSurvival": "titanic",
}
RGYM_TO_MLGYM: dict[str, str] = {v: k for k, v in MLGYM_TO_RGYM.items()}
MLGYM_PREFIX = "mlgym/"
"""Tasks imported from an MLGym checkout are named `mlgym/<MLGym id>`."""

#: Priority metrics of MLGym tasks outside the 13 of MLGym-Bench (same evaluators' keys).
EXTRA_PRIORITY_METRICS: dict[str, tuple[str, str]] = {
    "titanicSurvival": ("accuracy", "max"),
    "regressionKaggleHousePriceL1": ("r2", "max"),
}

ENDINGS = {
    "exit_format": "format_error",
    "exit_context": "context",
    "exit_cost": "cost",
    "exit_api": "model_error",
    "exit_error": "agent_error",
}
"""MLGym's synthetic end-of-episode actions -> the budget kind rgym's env records."""
STOPS = {"skip", "exit_forfeit"}
UNSUPPORTED = {"memory_write", "memory_read", "literature_search", "parse_pdf_url"}
TEXT_COMMANDS = {"edit": "end_of_edit", "insert": "end_of_insert"}
MALFORMED_EDIT = re.compile(r"^edit\s+(\d+):(\d+)(?:\n|$|\s)")
VIEW_HEADER = re.compile(r"^\[File: (.+) \((\d+) lines total\)\]$")
WORKSPACE = "/home/agent/workspace/"
EDITS = ("edit", "insert", "create")
UNCHANGED = ("No file open", "Usage:", "Error:", "Malformed edit command", "Your proposed")
"""How MLGym's output starts when an edit, insert or create changed nothing."""
HEADER = re.compile(r"^\s*(edit|insert)(?:\s+(.*?))?\s*$")


def mlgym_id(task_id: str) -> str | None:
    """The MLGym id of a task id, rgym's (`battle-of-sexes`), imported (`mlgym/battleOfSexes`)
    or MLGym's own (`battleOfSexes`); None when it has no MLGym counterpart."""
    if task_id.startswith(MLGYM_PREFIX):
        return task_id[len(MLGYM_PREFIX) :]
    if task_id in MLGYM_TO_RGYM:
        return task_id
    return RGYM_TO_MLGYM.get(task_id)


def same_task(a: str, b: str) -> bool:
    """Whether two task ids (rgym's, imported or MLGym's) name the same task."""
    return a == b or (mlgym_id(a) is not None and mlgym_id(a) == mlgym_id(b))


class Actions(list):
    """The actions to replay (dicts: `action` and `thought`, or `end`: a budget kind that ends
    the replay with the artefact scored), with where they came from and what was changed."""

    def __init__(self, items=(), label="actions", notes=None, source=None):
        super().__init__(items)
        self.label, self.notes, self.source = label, list(notes or []), source


@dataclass
class MLGymTrajectory:
    """An MLGym trajectory, read: what it recorded and the actions that replay it."""

    path: Path
    task_id: str | None
    model: str | None
    steps: int
    actions: list[dict[str, str]]
    notes: list[str]
    exit_status: str | None
    scores: list[dict[str, Any]]
    baseline: dict[str, Any] | None
    metric: str | None
    direction: str | None
    views: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    """Workspace-relative path -> (step, lines): files seen whole before the first edit."""

    @property
    def rgym_task(self) -> str | None:
        return MLGYM_TO_RGYM.get(self.task_id or "")

    def values(self) -> list[float]:
        """The priority metric of every recorded evaluation (validations, then the final)."""
        out = []
        for s in self.scores:
            v = s.get(self.metric) if isinstance(s, dict) and self.metric else None
            if isinstance(v, int | float) and not isinstance(v, bool):
                out.append(float(v))
        return out

    @property
    def last(self) -> float | None:
        """The final evaluation's value (MLGym's "last"; None when it has no metric)."""
        if not self.scores or not isinstance(self.scores[-1], dict) or not self.metric:
            return None
        v = self.scores[-1].get(self.metric)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    @property
    def best(self) -> float | None:
        vals = self.values()
        if not vals:
            return None
        return min(vals) if self.direction == "min" else max(vals)

    @property
    def validations(self) -> int:
        return sum(a.get("action") == "validate" for a in self.actions)

    def summary(self) -> str:
        task = self.task_id or "unknown task"
        if self.rgym_task:
            task += f" (rgym: {self.rgym_task})"
        lines = [
            f"MLGym trajectory {self.path}: {task}, model {self.model or 'unknown'}, "
            f"{self.steps} steps -> {sum('action' in a for a in self.actions)} actions to replay "
            f"({self.validations} validate, "
            f"{sum(a.get('action') == 'submit' for a in self.actions)} submit)."
        ]
        lines += [f"  {n}" for n in self.notes]
        if self.views:
            seen = ", ".join(f"{p} (step {n})" for p, (n, _) in self.views.items())
            lines.append(
                f"  seen whole before the first edit: {seen}; the replay first writes them "
                "back as seen (data/ excepted), so that the edits' line numbers match"
            )
        rec = f"MLGym recorded: exit status {self.exit_status or '(none)'}"
        if self.metric:
            rec += (
                f"; {self.metric} last {_fmt(self.last)}, best {_fmt(self.best)}, "
                f"baseline {_fmt((self.baseline or {}).get(self.metric))}"
            )
        lines.append(rec)
        return "\n".join(lines)


def _fmt(x: Any) -> str:
    return f"{x:.4f}" if isinstance(x, int | float) and not isinstance(x, bool) else "-"


def is_mlgym_source(path: Path) -> bool:
    """A `.traj` file, or a folder holding one and no rgym events.jsonl."""
    path = Path(path)
    if path.is_file():
        return path.suffix == ".traj"
    return path.is_dir() and not (path / "events.jsonl").exists() and any(path.glob("*.traj"))


def find_traj(path: Path) -> Path:
    """The `.traj` of an MLGym run folder (or the file itself).

    Raises:
        ConfigError: none, or several with none named after the folder's task.
    """
    path = Path(path)
    if path.is_file():
        return path
    trajs = sorted(path.glob("*.traj"))
    if len(trajs) == 1:
        return trajs[0]
    if not trajs:
        raise ConfigError(f"{path} holds no MLGym .traj file")
    from rgym.metrics.mlgym import parse_mlgym_run_name

    parsed = parse_mlgym_run_name(path.name)
    if parsed and (path / f"{parsed.task_id}.traj").exists():
        return path / f"{parsed.task_id}.traj"
    raise ConfigError(
        f"{path} holds {len(trajs)} .traj files ({', '.join(t.name for t in trajs)}); "
        "pass the one to replay"
    )


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not a readable MLGym file ({e})") from None


def read_trajectory(path: Path) -> MLGymTrajectory:
    """Read an MLGym `.traj` (or the run folder holding it) and convert its actions.

    Raises:
        ConfigError: no .traj, unreadable JSON, or no `trajectory` list.
    """
    from rgym.metrics.mlgym import PRIORITY_METRICS, parse_mlgym_run_name

    traj_file = find_traj(Path(path))
    data = _load(traj_file)
    steps = data.get("trajectory") if isinstance(data, dict) else None
    if not isinstance(steps, list):
        raise ConfigError(f"{traj_file}: not an MLGym trajectory (no 'trajectory' list of steps)")
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    parsed = parse_mlgym_run_name(traj_file.parent.name)
    task_id = parsed.task_id if parsed else traj_file.stem
    results_file = traj_file.parent / "results.json"
    results = _load(results_file) if results_file.exists() else {}
    results = results if isinstance(results, dict) else {}
    scores = info.get("score") if isinstance(info.get("score"), list) else None
    if not scores and isinstance(results.get("agent"), list):
        scores = results["agent"]
    baseline = results.get("baseline") if isinstance(results.get("baseline"), dict) else None
    metric, direction = (PRIORITY_METRICS | EXTRA_PRIORITY_METRICS).get(task_id, (None, None))
    exit_status = info.get("exit_status")
    actions, notes = convert_steps(steps, str(exit_status or ""))
    views = recorded_views(steps)
    return MLGymTrajectory(
        path=traj_file,
        task_id=task_id,
        model=parsed.model if parsed else None,
        steps=len(steps),
        actions=actions,
        notes=notes,
        exit_status=str(exit_status) if exit_status is not None else None,
        scores=scores or [],
        baseline=baseline,
        metric=metric,
        direction=direction,
        views=views,
    )


def recorded_views(steps: list[Any]) -> dict[str, tuple[int, list[str]]]:
    """Files in the workspace that MLGym's agent saw whole in its viewer (no lines above or
    below the window; from `open`, or `create` of a file that existed) before its first edit,
    insert or create that changed a file: path -> (step, lines)."""
    views: dict[str, tuple[int, list[str]]] = {}
    for n, step in enumerate(steps, 1):
        if not isinstance(step, dict) or not isinstance(step.get("action"), str):
            continue
        words = step["action"].split()
        if words and words[0] in ("open", "create") and isinstance(step.get("observation"), str):
            view = parse_view(step["observation"])
            if view and view[0].startswith(WORKSPACE):
                views.setdefault(view[0][len(WORKSPACE) :], (n, view[1]))
        if words and words[0] in EDITS and not _unchanged(step.get("observation")):
            break
    return views


def _unchanged(observation: Any) -> bool:
    """Whether MLGym's output says an edit, insert or create changed nothing."""
    text = observation if isinstance(observation, str) else ""
    return text.startswith(UNCHANGED) or "have NOT been applied" in text[-600:]


def parse_view(observation: str) -> tuple[str, list[str]] | None:
    """(path, lines) of a file viewer window that shows the whole file, else None."""
    out = observation.split("\n")
    start = next((i for i, line in enumerate(out) if VIEW_HEADER.match(line)), None)
    if start is None:
        return None
    m = VIEW_HEADER.match(out[start])
    path, total = m.group(1), int(m.group(2))
    body = out[start + 1 : start + 1 + total]
    if len(body) != total:
        return None
    lines = []
    for i, line in enumerate(body, 1):
        number, sep, text = line.partition(":")
        if number != str(i) or not sep:
            return None  # lines above the window, or not the viewer's output
        lines.append(text)
    return path, lines


def restorable(views: dict[str, tuple[int, list[str]]]) -> dict[str, tuple[int, list[str]]]:
    """The views a replay writes back: files in the workspace itself, not under data/ (the
    task's read-only data) nor outside it."""
    return {
        p: v
        for p, v in views.items()
        if p and not p.startswith(("data/", "/", "../")) and "/../" not in p
    }


def restore_action(path: str, lines: list[str]) -> str:
    """A shell command writing `lines` to `path` (a quoted heredoc with a delimiter no line
    equals)."""
    import shlex

    marker = "MLGYM_VIEW"
    while marker in lines:
        marker += "_"
    body = "".join(f"{line}\n" for line in lines)
    return f"cat > {shlex.quote(path)} << '{marker}'\n{body}{marker}"


def convert_steps(
    steps: list[Any], exit_status: str = ""
) -> tuple[list[dict[str, str]], list[str]]:
    """The rgym actions for MLGym's steps, and a note for every step changed or left out."""
    actions: list[dict[str, str]] = []
    notes: list[str] = []
    rewritten: list[int] = []
    for n, step in enumerate(steps, 1):
        if not isinstance(step, dict) or not isinstance(step.get("action"), str):
            notes.append(f"step {n}: no action recorded; left out")
            continue
        raw = step["action"].strip()
        thought = step.get("thought") if isinstance(step.get("thought"), str) else ""
        if n == len(steps) and "max_steps" in exit_status:
            notes.append(
                f"step {n}: `{_short(raw)}` was past MLGym's step limit and never ran; left "
                "out, the replay ends with the artefact scored (auto_submitted:steps)"
            )
            actions.append({"end": "steps", "thought": thought})
            break
        if not raw:
            notes.append(f"step {n}: empty action; left out")
            continue
        word = raw.split()[0]
        if raw in ENDINGS:
            notes.append(
                f"step {n}: `{raw}` (MLGym's agent stopped) ends the replay with the "
                f"artefact scored (auto_submitted:{ENDINGS[raw]})"
            )
            actions.append({"end": ENDINGS[raw], "thought": thought})
            break
        if raw in STOPS:
            notes.append(
                f"step {n}: `{raw}` stopped MLGym's episode without a score; the replay "
                "stops there (rgym still scores the artefact: auto_submitted:agent_stopped)"
            )
            break
        if word in UNSUPPORTED:
            notes.append(
                f"step {n}: `{_short(raw)}` is an MLGym tool rgym's replay lacks; left out"
            )
            continue
        if MALFORMED_EDIT.match(raw) and "end_of_edit" not in raw:
            notes.append(
                f"step {n}: `{_short(raw)}` has no end_of_edit; MLGym refused it without "
                "running it (malformed edit); left out"
            )
            continue
        action, changed = guard_text_commands(raw)
        if action not in ("validate", "submit") and not bash_parses(action):
            notes.append(
                f"step {n}: `{_short(raw)}` is not valid bash; MLGym checks every action with "
                "`bash -n` and did not run it; left out"
            )
            continue
        if changed:
            rewritten.append(n)
        actions.append({"action": action, "thought": thought})
    if rewritten:
        notes.insert(
            0,
            f"{len(rewritten)} edit/insert commands given their text as heredocs, as MLGym's "
            f"agent does before running them (steps {_ranges(rewritten)})",
        )
    return actions, notes


def bash_parses(action: str) -> bool:
    """Whether bash can parse `action` (`bash -n`: read, never run). True when there is no
    bash to ask."""
    import shutil
    import subprocess

    bash = shutil.which("bash")
    if bash is None:
        return True
    try:
        p = subprocess.run(
            [bash, "-n"], input=action.encode("utf-8", "surrogateescape"), capture_output=True,
            timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return True
    return p.returncode == 0


def guard_text_commands(action: str) -> tuple[str, bool]:
    """Rewrite `edit a:b` / `insert n` + text lines + end marker into what rgym's tools read:
    the text on stdin (see :func:`rgym.agent.tools.text_command`). A command already written
    as a heredoc, or without its end marker, is left as it is. Returns (action, changed)."""
    from rgym.agent.tools import text_command

    lines = action.split("\n")
    out: list[str] = []
    changed, i = False, 0
    while i < len(lines):
        m = HEADER.match(lines[i])
        marker = TEXT_COMMANDS.get(m.group(1)) if m else None
        end = None
        if marker and "<<" not in lines[i]:
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == marker), None)
        if end is None:
            out.append(lines[i])
            i += 1
            continue
        head = f"{m.group(1)} {m.group(2)}".strip()
        out.append(text_command(head, lines[i + 1 : end], marker))
        changed, i = True, end + 1
    return "\n".join(out), changed


def _short(text: str, n: int = 60) -> str:
    first = text.split("\n", 1)[0]
    return first[:n] + ("…" if len(first) > n or "\n" in text else "")


def _ranges(ns: list[int]) -> str:
    out, start = [], ns[0]
    for a, b in zip(ns, [*ns[1:], None], strict=True):
        if b != a + 1:
            out.append(str(start) if start == a else f"{start}-{a}")
            start = b
    return ", ".join(out)
