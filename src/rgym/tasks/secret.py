"""The installation's secret key, and the seeds derived from it.

rgym's source is public, and so is every task's seed: anything generated from the seed alone
(test instances, an opponent's randomness, which rows are dev and which are test) can be
regenerated inside the sandbox by an agent that reads the recipe. So whatever decides a test
score derives from a secret instead: 32 random bytes in the private data cache
(`<cache root>/key`, created 0600 on first use, never mounted into a sandbox), mixed with the task
and its public seed by HMAC-SHA256. Grading stays deterministic for a given key.

Two seed modes:

- `secret` (the default): secrets derive from the installation key. Scores of two
  installations are comparable in distribution, not digit for digit.
- `public` (`--public-seeds`): secrets derive from the public task seed exactly as the recipe
  says, so published numbers can be reproduced exactly by anyone. The test instances are then
  derivable by the agent: use this mode only to reproduce or publish comparisons.

Every prepared data set records its mode and the key's fingerprint (`seed_provenance`), and a
run's result copies them, so scores of different modes or keys are never mixed up.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rgym.errors import ConfigError

SeedMode = Literal["secret", "public"]
SEED_MODES: tuple[str, ...] = ("secret", "public")
KEY_BYTES = 32
KEY_FILE = "key"


def check_mode(mode: str) -> SeedMode:
    if mode not in SEED_MODES:
        raise ConfigError(f"unknown seed mode {mode!r}; use 'secret' (default) or 'public'")
    return mode  # type: ignore[return-value]


def key_path(root: Path) -> Path:
    return root / KEY_FILE


def _read_key(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise
        raise ConfigError(
            f"{path} is a symbolic link; rgym's key must be a plain file. Move it away and rgym "
            "makes a new one."
        ) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size != KEY_BYTES:
            raise ConfigError(
                f"{path} is not rgym's key ({KEY_BYTES} bytes, a plain file). Move it away; rgym "
                "makes a new one (scores measured with the old key stop being comparable)."
            )
        if st.st_mode & 0o077:
            raise ConfigError(
                f"{path} is readable by other users (mode {stat.S_IMODE(st.st_mode):o}); the key "
                f"decides the secret test sets. Run `chmod 600 {path}`."
            )
        key = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(key) != KEY_BYTES:
        raise ConfigError(f"{path}: short read of the key; is the file being replaced?")
    return key


def installation_key(root: Path) -> bytes:
    """The 32-byte secret key of this installation, made on first use.

    Creation is atomic: the bytes are written 0600 to a private temporary file that is then
    hard-linked into place; when two processes race, the first link wins and both use its key.
    """
    path = key_path(root)
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".key-{os.getpid()}-{os.urandom(6).hex()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        data = os.urandom(KEY_BYTES)
        if os.write(fd, data) != KEY_BYTES:
            raise OSError(errno.EIO, "short write", str(tmp))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        tmp.unlink()
    return _read_key(path)


def fingerprint(key: bytes) -> str:
    """Names a key without revealing it: the first 12 hex digits of its sha256."""
    return hashlib.sha256(key).hexdigest()[:12]


def derive_seed(key: bytes, task_id: str, seed: int, purpose: str) -> int:
    """HMAC-SHA256(key, "task:seed:purpose") as a 63-bit integer (safe in JSON and int64)."""
    mac = hmac.new(key, f"{task_id}:{seed}:{purpose}".encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") >> 1


@dataclass(frozen=True)
class Secrets:
    """The seeds of one task under one seed mode. Recipes get `seed_for` as `secret_seed`."""

    mode: SeedMode
    task_id: str
    seed: int
    key: bytes | None = field(default=None, repr=False)

    @classmethod
    def for_task(cls, task_id: str, seed: int, mode: str, root: Path) -> Secrets:
        mode = check_mode(mode)
        key = installation_key(root) if mode == "secret" else None
        return cls(mode, task_id, seed, key)

    @property
    def fingerprint(self) -> str | None:
        return fingerprint(self.key) if self.key is not None else None

    def seed_for(self, purpose: str, public: int | None) -> int | None:
        """The seed for `purpose` (e.g. "test instances"): `public` (what the recipe would use
        with public seeds) in public mode, else derived from the installation key."""
        if self.mode == "public":
            return public
        assert self.key is not None
        return derive_seed(self.key, self.task_id, self.seed, purpose)

    def grader_seed(self, split: str) -> int:
        """The grader's `--seed` for a split: the task seed in public mode, else secret."""
        if self.mode == "public":
            return self.seed
        return self.seed_for(f"grader:{split}", None)  # type: ignore[return-value]
