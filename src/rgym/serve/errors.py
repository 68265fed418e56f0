"""The errors `rgym serve` answers with, shared by the server and its clients.

Each has the HTTP status it is sent with and, on a WebSocket, an OpenEnv error code
(`openenv.core.env_server.types.WSErrorCode`), so one failure reads the same over both. The
client raises the same class the server did: a step on a finished episode is a `RuntimeError`
remotely, as it is in-process.
"""

from __future__ import annotations

from typing import Any

from rgym.errors import RgymError


class ServeError(RgymError):
    """A request `rgym serve` could not carry out."""

    status: int = 500
    code: str = "EXECUTION_ERROR"

    def payload(self) -> dict[str, Any]:
        """The error as sent: OpenEnv's WebSocket error data, plus the HTTP status."""
        return {"message": str(self), "code": self.code, "status": self.status}


class BadRequest(ServeError):
    """A reset or action the server cannot accept (a task it does not serve, no such variant,
    an action that is not a string)."""

    status = 422
    code = "VALIDATION_ERROR"


class Unauthorized(ServeError):
    status = 401
    code = "SESSION_ERROR"


class EpisodeNotFound(ServeError):
    """No live episode has this id: never opened, closed by its client, or closed by the server
    (idle too long, its client gone, the server stopping)."""

    status = 404
    code = "SESSION_ERROR"

    @classmethod
    def for_id(cls, episode_id: str, why: str | None = None) -> EpisodeNotFound:
        """`why`: why the server closed it, when it remembers."""
        if why:
            text = f"episode {episode_id!r} was closed: {why}"
        else:
            text = f"no episode {episode_id!r} on this server (never opened, or closed long ago)"
        return cls(f"{text}; open a new one (POST /episodes, or reset on a WebSocket)")


class EpisodeStateError(ServeError, RuntimeError):
    """A step before the first reset or after the episode ended (a RuntimeError, as
    `ResearchEnv.step` raises in-process)."""

    status = 409
    code = "EXECUTION_ERROR"


class AtCapacity(ServeError):
    status = 503
    code = "CAPACITY_REACHED"

    @classmethod
    def of(cls, live: int, limit: int) -> AtCapacity:
        return cls(
            f"server at capacity: {live} of {limit} episodes live (--max-episodes); close one "
            "(DELETE /episodes/<id>, or close its WebSocket) or retry later"
        )


class ConnectionLost(ServeError):
    """The server closed the connection (the episode timed out, or the server stopped)."""

    status = 410
    code = "SESSION_ERROR"


_BY_STATUS: dict[int, type[ServeError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        EpisodeNotFound,
        EpisodeStateError,
        AtCapacity,
        ConnectionLost,
    )
}


def from_payload(data: dict[str, Any]) -> ServeError:
    """The error a server sent, rebuilt on the client side as the same class."""
    message = str(data.get("message") or data.get("detail") or data)
    status = data.get("status")
    error = _BY_STATUS.get(status, ServeError)(message)  # type: ignore[arg-type]
    if isinstance(status, int):
        error.status = status
    if data.get("code"):
        error.code = str(data["code"])
    return error
