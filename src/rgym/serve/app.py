"""The `rgym serve` web app: OpenEnv's WebSocket protocol at /ws, a REST API for the same
episodes at /episodes, and OpenEnv's /health, /metadata and /schema.

OpenEnv's own `HTTPEnvServer` is not used as the app: its HTTP /reset and /step build a fresh
environment per request (an rgym episode is a sandbox that lives across steps), its idle reaper
checks no more often than every 5 s and leaves a reaped WebSocket open, and it adds an MCP
endpoint. rgym keeps its Environment interface, its message types and its wire format, so
OpenEnv's clients (`GenericEnvClient`, `EnvClient` subclasses) work against it unchanged.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Body, FastAPI, Request, Response, WebSocket
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from openenv.core.env_server.serialization import serialize_observation
from openenv.core.env_server.types import (
    EnvironmentMetadata,
    SchemaResponse,
    WSErrorCode,
    WSObservationResponse,
    WSResetMessage,
    WSStateResponse,
    WSStepMessage,
)
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from rgym.errors import RgymError
from rgym.serve.config import ServeConfig
from rgym.serve.environment import metadata as rgym_metadata
from rgym.serve.episodes import Episode, EpisodeManager
from rgym.serve.errors import BadRequest, ConnectionLost, ServeError
from rgym.serve.guard import Guard
from rgym.serve.protocol import (
    ResetOptions,
    RgymAction,
    RgymObservation,
    RgymState,
    describe_validation_error,
)

log = logging.getLogger("rgym.serve")
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""Largest request body or WebSocket message: an action of 1,000,000 characters, JSON-escaped
at up to 6 bytes each, fits."""
CAPACITY_CLOSE_CODE = 1013
"""WebSocket close code (try again later) when --max-episodes are live."""
IDLE_CLOSE_CODE = 4408
"""WebSocket close code when the server closes an episode (idle timeout, shutdown)."""


def create_app(config: ServeConfig, manager: EpisodeManager) -> Guard:
    """The app behind its Guard (host, origin, token, body size); `manager` holds its episodes."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        manager.start()
        try:
            yield
        finally:
            await manager.stop()

    app = FastAPI(
        title="rgym serve",
        description="rgym's research tasks as OpenEnv environments (docs/serve.md).",
        lifespan=lifespan,
        docs_url=None,  # no pages that load scripts from a CDN
        redoc_url=None,
    )

    @app.exception_handler(ServeError)
    async def serve_error(request: Request, error: ServeError) -> JSONResponse:
        return JSONResponse(
            {"detail": str(error), "code": error.code, "status": error.status}, error.status
        )

    @app.exception_handler(RgymError)
    async def rgym_error(request: Request, error: RgymError) -> JSONResponse:
        # the server's side failed cleanly (no sandbox, a task's data missing): say what
        return JSONResponse({"detail": str(error), "code": "EXECUTION_ERROR", "status": 500}, 500)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        # never echo the input back: an over-long action would come back whole
        errors = [{k: v for k, v in e.items() if k not in ("input", "url")} for e in error.errors()]
        return JSONResponse(
            {"detail": jsonable_encoder(errors), "code": "VALIDATION_ERROR", "status": 422}, 422
        )

    # --- OpenEnv's informational endpoints -----------------------------------------------------

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "healthy",
            "episodes": len(manager.episodes),
            "max_episodes": config.max_episodes,
        }

    @app.get("/metadata", response_model=EnvironmentMetadata)
    async def metadata() -> EnvironmentMetadata:
        return rgym_metadata()

    @app.get("/schema", response_model=SchemaResponse)
    async def schema() -> SchemaResponse:
        return SchemaResponse(
            action=RgymAction.model_json_schema(),
            observation=RgymObservation.model_json_schema(),
            state=RgymState.model_json_schema(),
        )

    @app.get("/tasks")
    async def tasks() -> list[dict[str, Any]]:
        """The tasks a client may reset to, with their variants."""
        return [
            {
                "id": spec.id,
                "variants": list(spec.variants),
                "metric": spec.metric.name,
                "direction": str(spec.metric.direction),
            }
            for spec in sorted(manager.catalog.tasks.values(), key=lambda s: s.id)
        ]

    # --- episodes over HTTP ----------------------------------------------------------------

    @app.get("/episodes")
    async def list_episodes() -> list[dict[str, Any]]:
        return manager.summaries()

    @app.post("/episodes", status_code=201)
    async def open_episode(
        response: Response, options: ResetOptions = Body(default_factory=ResetOptions)
    ) -> dict[str, Any]:
        """Open an episode and reset it: the reply's observation carries its episode_id."""
        episode = manager.open("http")
        try:
            observation = await manager.call(episode, episode.env.reset_with, options)
        except Exception:
            await manager.close(episode.id, "its first reset failed")
            raise
        response.headers["location"] = f"/episodes/{episode.id}"
        return serialize_observation(observation)

    @app.post("/episodes/{episode_id}/reset")
    async def reset_episode(
        episode_id: str, options: ResetOptions = Body(default_factory=ResetOptions)
    ) -> dict[str, Any]:
        episode = manager.get(episode_id)
        return serialize_observation(await manager.call(episode, episode.env.reset_with, options))

    @app.post("/episodes/{episode_id}/step")
    async def step_episode(episode_id: str, action: RgymAction) -> dict[str, Any]:
        episode = manager.get(episode_id)
        return serialize_observation(await manager.call(episode, episode.env.step, action))

    @app.get("/episodes/{episode_id}")
    async def episode_state(episode_id: str) -> dict[str, Any]:
        return manager.get(episode_id).env.state.model_dump()

    @app.delete("/episodes/{episode_id}", status_code=204)
    async def close_episode(episode_id: str) -> Response:
        manager.get(episode_id)
        await manager.close(episode_id, "closed by its client (DELETE)")
        return Response(status_code=204)

    # --- episodes over OpenEnv's WebSocket protocol ---------------------------------------------

    @app.websocket("/ws")
    async def websocket_session(websocket: WebSocket) -> None:
        """One OpenEnv session: one episode, for as long as the connection lasts."""
        await websocket.accept()
        try:
            episode = manager.open("websocket")
        except ServeError as e:
            await websocket.send_text(_error(e.payload()))
            await websocket.close(code=CAPACITY_CLOSE_CODE, reason=str(e)[:120])
            return

        async def server_closed(why: str) -> None:
            if websocket.client_state != WebSocketState.CONNECTED:
                return
            try:
                await websocket.send_text(
                    _error(ConnectionLost(f"episode closed: {why}").payload())
                )
                await websocket.close(code=IDLE_CLOSE_CODE, reason=why[:120])
            except (WebSocketDisconnect, RuntimeError, OSError):
                pass  # the client went first

        episode.on_server_close = server_closed
        why = "its client disconnected"
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                raw = message.get("text")
                if raw is None:
                    raw = (message.get("bytes") or b"").decode("utf-8", "replace")
                reply = await _answer(manager, episode, raw)
                if reply is None:
                    why = "closed by its client"
                    break
                await websocket.send_text(reply)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            await manager.close(episode.id, why)
            if websocket.client_state == WebSocketState.CONNECTED:
                try:
                    await websocket.close()
                except (WebSocketDisconnect, RuntimeError, OSError):
                    pass

    return Guard(
        app,
        token=config.token,
        allowed_hosts=config.allowed_hosts,
        max_body=MAX_MESSAGE_BYTES,
    )


async def _answer(manager: EpisodeManager, episode: Episode, raw: str) -> str | None:
    """The reply to one WebSocket message (None: the client asked to close)."""
    try:
        message = json.loads(raw)
    except json.JSONDecodeError as e:
        return _error({"message": f"invalid JSON: {e}", "code": WSErrorCode.INVALID_JSON.value})
    kind = message.get("type") if isinstance(message, dict) else None
    try:
        if kind == "reset":
            data = _validated(WSResetMessage, message).data
            options = _validated(ResetOptions, data, "reset")
            observation = await manager.call(episode, episode.env.reset_with, options)
            return WSObservationResponse(data=serialize_observation(observation)).model_dump_json()
        if kind == "step":
            data = _validated(WSStepMessage, message).data
            action = _validated(RgymAction, data, "action")
            observation = await manager.call(episode, episode.env.step, action)
            return WSObservationResponse(data=serialize_observation(observation)).model_dump_json()
        if kind == "state":
            episode.last_active = time.monotonic()
            return WSStateResponse(data=episode.env.state.model_dump()).model_dump_json()
        if kind == "close":
            return None
        return _error(
            {
                "message": f"unknown message type {kind!r}; this server answers reset, step, "
                "state and close",
                "code": WSErrorCode.UNKNOWN_TYPE.value,
            }
        )
    except ServeError as e:
        return _error(e.payload())
    except RgymError as e:  # the server's side failed cleanly: say what, keep the session
        return _error({"message": str(e), "code": "EXECUTION_ERROR", "status": 500})
    except Exception as e:  # an rgym bug: say so, keep the session
        log.exception("episode %s: %s failed", episode.id, kind)
        return _error(
            {"message": f"{type(e).__name__}: {e}", "code": "EXECUTION_ERROR", "status": 500}
        )


def _validated(model: Any, data: Any, what: str = "message") -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise BadRequest(f"{what}: {describe_validation_error(e)}") from None


def _error(data: dict[str, Any]) -> str:
    return json.dumps({"type": "error", "data": data}, default=str)
