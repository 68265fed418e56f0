"""What `rgym serve` serves and under which limits, checked before anything listens."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, model_validator

from rgym.errors import RgymError
from rgym.listen import is_loopback

MIN_TOKEN_CHARS = 16


class UnsafeServeConfig(RgymError):
    """A configuration that would expose sandboxes to a network without a token."""


class ServeConfig(BaseModel):
    """One `rgym serve`: where it listens, who may use it, what it serves, how much at once."""

    host: str = "127.0.0.1"
    """Address to listen on; anything but loopback needs a token."""
    port: int = Field(8000, ge=0, le=65535)
    """0 picks a free port."""
    max_episodes: int = Field(16, ge=1, le=4096)
    """Live episodes at once (each one sandbox); past it, new ones get 503 / CAPACITY_REACHED."""
    idle_timeout: float = Field(600.0, gt=0)
    """Seconds an episode may go without a request before the server closes it and its sandbox
    (a step that is running is never idle)."""
    token: str | None = None
    """Bearer token every request must carry; required off loopback."""
    tasks: list[str] = Field(default_factory=list)
    """Task ids a client may reset to; empty: every task this installation knows."""
    shaping: bool = False
    """Pay dev-score improvements on `validate` (ResearchEnv(shaping=True))."""
    tasks_dirs: list[Path] = Field(default_factory=list)
    """Folders of the operator's own tasks, as `rgym run --tasks-dir`."""

    @model_validator(mode="after")
    def _secure(self) -> ServeConfig:
        if self.token is not None and len(self.token) < MIN_TOKEN_CHARS:
            raise UnsafeServeConfig(
                f"--token: a token of {len(self.token)} characters is too easy to guess; use at "
                f"least {MIN_TOKEN_CHARS}, e.g. python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'"
            )
        if self.token is None and not is_loopback(self.host):
            raise UnsafeServeConfig(
                f"--host {self.host}: refusing to serve sandboxes beyond this machine without a "
                "token; pass --token (or set RGYM_SERVE_TOKEN), or keep the default --host "
                "127.0.0.1"
            )
        return self

    @property
    def allowed_hosts(self) -> list[str] | None:
        """Host headers accepted: on loopback only loopback names, so a web page cannot reach
        the server through DNS rebinding; elsewhere any (the token guards it)."""
        return ["127.0.0.1", "localhost", "::1"] if is_loopback(self.host) else None
