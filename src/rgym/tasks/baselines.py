"""Baseline and reference scores measured on this installation's test set.

A normalised score is 0 at the baseline and 1 at the reference. Published numbers (task.yaml)
come from another test set (MLGym's, or rgym's public seeds), so normalising with them pays an
agent for sampling noise: battle-of-sexes' unmodified starter scores 1.016 on rgym's test games
but MLGym published 1.0227, and doing nothing earned -0.016. Here the baseline and the reference
solution are run through the real test grader on the very test set the agent is scored on, as
`rgym verify` runs them (`rgym.tasks.verify.score_solution`), and the result is cached as JSON
next to the prepared data, keyed by everything that can change it: the data's checksums (hence
the seed mode and key), the grader's code, rgym's grading harness, the starter files and the
solutions. Submitting the unmodified baseline of a deterministic task earns exactly 0.

Where a task has no runnable baseline or reference (none declared, or its run failed here), the
published number from task.yaml is used instead, and `MeasuredScores` says so. A reference that
does not beat the baseline on this test set (a small test split can make a good solution look
worse: house-price's reference loses on about 1 test half in 80) cannot define the scale, so
the published lead of the reference over the baseline is added to the measured baseline: 0
stays at the baseline and an agent that is better still gets a positive score.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from rgym.tasks.data import PreparedData
from rgym.tasks.spec import Solution, TaskSpec
from rgym.tasks.verify import SolutionScore, score_solution

Source = Literal["measured", "task.yaml", "task.yaml gap", "none"]
"""measured: on this test set; task.yaml: the published number; task.yaml gap (reference only):
the measured baseline plus the published reference's lead over the published baseline, used
when the reference does not beat the baseline on this test set; none: nothing to use."""

_measuring: ContextVar[bool] = ContextVar("rgym_measuring_scores", default=False)
"""True while this thread runs a baseline or reference: its episodes must not measure again."""


class MeasuredScores(BaseModel):
    """The baseline and reference used to normalise scores of one task variant on one test set."""

    task: str
    variant: str
    seed_mode: str | None
    key_fingerprint: str | None
    baseline: float | None
    """The number normalising uses as 0 (see baseline_source)."""
    reference: float | None
    """The number normalising uses as 1 (see reference_source)."""
    baseline_source: Source
    reference_source: Source
    published_baseline: float | None = None
    """task.yaml's number, for display."""
    published_reference: float | None = None
    baseline_run: SolutionScore | None = None
    """The measurement itself: status, message and seconds (None: no baseline declared)."""
    reference_run: SolutionScore | None = None
    seconds: float = 0.0
    """How long measuring took (both solutions, each in its own episode and grading sandbox)."""
    sandbox: str | None = None
    cache_key: str = ""
    notes: list[str] = Field(default_factory=list)
    cached: bool = Field(default=False, exclude=True)
    """Read from the cache rather than measured now (not stored)."""

    @property
    def source(self) -> str:
        """'measured' (both on this test set), 'task.yaml' (both published) or a mix, spelled
        out; 'none' when there is nothing to normalise with."""
        if self.baseline_source == self.reference_source:
            return self.baseline_source
        return f"baseline {self.baseline_source}, reference {self.reference_source}"


def _hash_path(h, path: Path) -> None:
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            h.update(str(f.relative_to(path)).encode() + b"\0")
            h.update(f.read_bytes())
    elif path.is_file():
        h.update(path.read_bytes())
    h.update(b"\1")


def scores_key(spec: TaskSpec, variant: str, data: PreparedData) -> str:
    """A hash of everything a measured baseline/reference score depends on."""
    from rgym.grading.runner import INSIDE

    h = hashlib.sha256()
    info = data.info
    h.update(
        json.dumps(
            {
                "task": spec.id,
                "version": spec.version,
                "variant": variant,
                "options": spec.variant(variant).data,
                "metric": spec.metric.name,
                "seed_mode": info.get("seed_mode"),
                "key": info.get("key_fingerprint"),
                "public": info.get("public"),
                "private": info.get("private"),
                "baseline": spec.baseline.model_dump() if spec.baseline else None,
                "reference": spec.reference.model_dump() if spec.reference else None,
            },
            sort_keys=True,
            default=str,
        ).encode()
    )
    test = spec.graders.test
    if spec.mlgym:
        for rel in [*spec.mlgym.evaluation_paths, *spec.mlgym.secret_files]:
            _hash_path(h, spec.path(rel))
        for rel in spec.mlgym.starter_code:
            _hash_path(h, spec.path(rel))
    else:
        _hash_path(h, spec.path(test.script).parent)
    _hash_path(h, INSIDE)
    for path in spec.entry_paths(spec.starter):
        _hash_path(h, path)
    for sol in (spec.baseline, spec.reference):
        for path in spec.entry_paths(sol.files if sol else None):
            _hash_path(h, path)
    return h.hexdigest()[:16]


def scores_file(spec: TaskSpec, variant: str, data: PreparedData) -> Path:
    """Where the measured scores are cached: next to the data (never mounted in a sandbox)."""
    slug = spec.id.replace("/", "_")  # imported ids are namespaced (mlgym/<id>)
    return data.public.parent / f"scores-{slug}-{variant}-{scores_key(spec, variant, data)}.json"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One measurement at a time per cache file, across processes (a batch's first episodes)."""
    with open(path.with_suffix(".lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _read(path: Path) -> MeasuredScores | None:
    try:
        m = MeasuredScores.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return None
    m.cached = True
    return m


def _write(path: Path, m: MeasuredScores) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".scores-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(m.model_dump_json(indent=1))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _run(
    spec: TaskSpec, solution: Solution, variant: str, sandbox: str, seed_mode: str
) -> SolutionScore:
    start = time.monotonic()
    try:
        return score_solution(spec, solution, variant, sandbox, seed_mode=seed_mode)
    except Exception as e:  # an infrastructure failure: reported, never cached
        return SolutionScore(
            score=None,
            status="error",
            message=f"{type(e).__name__}: {e}",
            seconds=time.monotonic() - start,
        )


def measured_scores(
    spec: TaskSpec,
    variant: str,
    data: PreparedData,
    backend=None,
    *,
    sandbox: str | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> MeasuredScores:
    """The baseline and reference scores of a task variant on the test set of `data`.

    Read from the cache next to the data when present (and `force` is off); else the baseline
    and the reference solution are each run in a fresh episode (sandbox `backend`, or the
    backend named `sandbox`; bwrap by default) and scored by the real test grader, and the
    result is cached when every run scored. A solution that cannot be scored here falls back to
    task.yaml's number, with a note, and is measured again next time.
    """
    sandbox = sandbox or getattr(backend, "name", None) or "bwrap"
    seed_mode = data.info.get("seed_mode") or "secret"
    path = scores_file(spec, variant, data)
    if not force and (m := _read(path)) is not None:
        return m
    with _locked(path):
        if not force and (m := _read(path)) is not None:
            return m  # another process measured while this one waited
        token = _measuring.set(True)
        start = time.monotonic()
        try:
            runs: dict[str, SolutionScore | None] = {}
            for name, sol in (("baseline", spec.baseline), ("reference", spec.reference)):
                if sol is None:
                    runs[name] = None
                    continue
                if progress:
                    progress(f"measuring the {name} of {spec.id} ({variant}) on this test set")
                runs[name] = _run(spec, sol, variant, sandbox, seed_mode)
        finally:
            _measuring.reset(token)
        seconds = time.monotonic() - start
        published = {
            "baseline": spec.baseline_score(variant),
            "reference": spec.reference_score(variant),
        }
        values: dict[str, float | None] = {}
        sources: dict[str, Source] = {}
        notes = []
        for name, run in runs.items():
            if run is not None and run.score is not None:
                values[name], sources[name] = run.score, "measured"
                continue
            values[name] = published[name]
            sources[name] = "task.yaml" if published[name] is not None else "none"
            if run is None:
                notes.append(f"no {name} solution declared: using task.yaml's number")
            else:
                notes.append(
                    f"the {name} was not scored here ({run.status}): using task.yaml's number "
                    f"(measured again next time). {run.message[-500:]}"
                )
        if (
            sources["baseline"] == sources["reference"] == "measured"
            and not _better(values["reference"], values["baseline"], spec)
            and _better(published["reference"], published["baseline"], spec)
        ):
            gap = published["reference"] - published["baseline"]
            notes.append(
                f"the reference ({values['reference']:.6g}) does not beat the baseline "
                f"({values['baseline']:.6g}) on this test set; normalising uses the baseline "
                f"plus task.yaml's lead of the reference ({gap:+.6g}) instead"
            )
            values["reference"] = values["baseline"] + gap
            sources["reference"] = "task.yaml gap"
        elif values["reference"] is not None and not _better(
            values["reference"], values["baseline"], spec
        ):
            notes.append(
                f"the reference ({values['reference']:.6g}) does not beat the baseline "
                f"({values['baseline']}) and task.yaml gives no lead to use instead: scores "
                "are not normalised"
            )
            values["reference"], sources["reference"] = None, "none"
        m = MeasuredScores(
            task=spec.id,
            variant=variant,
            seed_mode=data.info.get("seed_mode"),
            key_fingerprint=data.info.get("key_fingerprint"),
            baseline=values["baseline"],
            reference=values["reference"],
            baseline_source=sources["baseline"],
            reference_source=sources["reference"],
            published_baseline=published["baseline"],
            published_reference=published["reference"],
            baseline_run=runs["baseline"],
            reference_run=runs["reference"],
            seconds=round(seconds, 3),
            sandbox=sandbox,
            cache_key=path.stem.rsplit("-", 1)[-1],
            notes=notes,
        )
        if all(r is None or r.score is not None for r in runs.values()):
            _write(path, m)
        return m


def _better(a: float | None, b: float | None, spec: TaskSpec) -> bool:
    from rgym.grading.runner import better

    return a is not None and b is not None and better(a, b, spec.metric.direction)


def episode_scores(
    spec: TaskSpec,
    variant: str,
    data: PreparedData,
    backend,
    progress: Callable[[str], None] | None = None,
) -> MeasuredScores | None:
    """What an episode normalises with (ResearchEnv.reset). None inside a measurement: the
    baseline's own episode must not measure the baseline again."""
    if _measuring.get():
        return None
    return measured_scores(spec, variant, data, backend, progress=progress)


def normalising_scores(
    spec: TaskSpec, variant: str, measured: MeasuredScores | None
) -> tuple[float | None, float | None, str]:
    """(baseline, reference, source) for normalising: measured where available, else task.yaml's
    published numbers (source 'task.yaml')."""
    if measured is None:
        b, r = spec.baseline_score(variant), spec.reference_score(variant)
        return b, r, "task.yaml" if b is not None or r is not None else "none"
    return measured.baseline, measured.reference, measured.source
