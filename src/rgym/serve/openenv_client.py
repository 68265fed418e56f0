"""`RgymEnvClient`: an OpenEnv `EnvClient` for `rgym serve`, built the way OpenEnv's
environment template builds one (typed action, observation and state over its WebSocket).

OpenEnv's `GenericEnvClient` works as it is (dicts in, dicts out); this one adds types and a
token, which `EnvClient` has no parameter for.

    async with RgymEnvClient("http://127.0.0.1:8000") as env:
        result = await env.reset(task="battle-of-sexes")
        result = await env.step(RgymAction(command="validate"))
        print(result.observation.info["dev_score"])

or, synchronously, `with RgymEnvClient(url).sync() as env: ...`.
"""

from __future__ import annotations

from typing import Any

from openenv.core.client_types import StepResult
from openenv.core.env_client import EnvClient
from websockets.asyncio.client import connect

from rgym.serve.protocol import RgymAction, RgymObservation, RgymState


class RgymEnvClient(EnvClient[RgymAction, RgymObservation, RgymState]):
    def __init__(self, base_url: str, token: str | None = None, **kwargs: Any) -> None:
        """`kwargs` as EnvClient's (message_timeout_s: a step may take the task's command
        timeout, `submit` a grading: raise it from OpenEnv's 60 s for long tasks)."""
        super().__init__(base_url, **kwargs)
        self._token = token

    async def connect(self) -> RgymEnvClient:
        if self._ws is None:
            headers = {"Authorization": f"Bearer {self._token}"} if self._token else None
            try:
                self._ws = await connect(
                    self._ws_url,
                    additional_headers=headers,
                    open_timeout=self._connect_timeout,
                    max_size=self._max_message_size,
                    proxy=None,
                )
            except Exception as e:  # as EnvClient.connect reports it
                raise ConnectionError(f"Failed to connect to {self._ws_url}: {e}") from e
        return self

    def _step_payload(self, action: RgymAction) -> dict[str, Any]:
        return {"command": action.command}

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[RgymObservation]:
        observation = RgymObservation(
            **payload.get("observation", {}),
            reward=payload.get("reward"),
            done=payload.get("done", False),
        )
        return StepResult(observation=observation, reward=observation.reward, done=observation.done)

    def _parse_state(self, payload: dict[str, Any]) -> RgymState:
        return RgymState(**payload)
