"""The integrity block every scored run carries in result.json.

A score means little without the conditions that produced it: was the agent isolated, which
limits really held, were the test instances secret or public, which grader and private data
scored it, and exactly which artefact was scored. The block records all of it, so a report can
leave out what cannot be trusted and anyone can check that two scores are comparable.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from rgym.grading.runner import INSIDE


class Integrity(BaseModel):
    sandbox: str
    """The sandbox backend the agent ran in."""
    isolated: bool
    """False for `--sandbox local`: the agent could read and change anything the user can."""
    limits_in_force: dict[str, Any] = Field(default_factory=dict)
    """What the host really enforced (memory, cpus, pids, disk, user namespaces, ...)."""
    seed_mode: str | None = None
    """secret (test instances derive from this installation's private key) or public."""
    key_fingerprint: str | None = None
    """Identifies the private key without revealing it; equal fingerprints, same test sets."""
    grader_version: str | None = None
    """A hash of the grader's code, rgym's grading harness and the private data's checksums."""
    artifact_sha256: str | None = None
    artifact_bytes: int | None = None
    scores_measured_on: str | None = None
    """Where the baseline/reference used for normalising come from: this test set, or the
    numbers published in task.yaml."""


def _hash_tree(h: hashlib._Hash, folder: Path) -> None:
    for f in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(f.relative_to(folder)).encode() + b"\0")
        h.update(f.read_bytes())


def grader_version(spec, data_info: dict | None) -> str:
    """sha256 (16 hex) of the test grader's folder, the grading harness and private checksums."""
    h = hashlib.sha256()
    gspec = spec.graders.test
    script = spec.path(gspec.script)
    if script.parent.is_dir():
        _hash_tree(h, script.parent)
    _hash_tree(h, INSIDE)
    for name, digest in sorted(((data_info or {}).get("private") or {}).items()):
        h.update(f"{name}={digest}\n".encode())
    return h.hexdigest()[:16]


def integrity_of(env) -> Integrity:
    """The integrity block of an env's episode (works for an episode that never started)."""
    backend = env.backend
    sandbox = getattr(env, "sandbox", None)
    limits = dict(getattr(env, "limits_in_force", None) or {})
    if not limits and sandbox is not None:
        limits = dict(sandbox.limits_in_force)
    info = dict(getattr(env.data, "info", None) or {}) if env.data is not None else {}
    tg = getattr(env, "test_grade", None)
    return Integrity(
        sandbox=backend.name,
        isolated=bool(backend.isolated),
        limits_in_force=limits,
        seed_mode=info.get("seed_mode"),
        key_fingerprint=info.get("key_fingerprint"),
        grader_version=grader_version(env.spec_, info) if env.data is not None else None,
        artifact_sha256=getattr(tg, "artifact_sha256", None) if tg else None,
        artifact_bytes=getattr(tg, "artifact_bytes", None) if tg else None,
        scores_measured_on=getattr(env, "scores_source", None),
    )
