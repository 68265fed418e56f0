"""The live episodes of one server: opened within `--max-episodes`, stepped in worker threads
one request at a time each, and closed (sandbox and all) when their client closes them, goes
away, or leaves them idle past `--idle-timeout`.

Everything here runs on the server's event loop, so opening is atomic (no await between the
capacity check and the insert); the blocking work of an episode (reset, step, close) runs in a
thread pool under that episode's own lock, so one slow command never holds up another episode.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from rgym.serve.config import ServeConfig
from rgym.serve.environment import FirstResets, RgymEnvironment, TaskCatalog
from rgym.serve.errors import AtCapacity, EpisodeNotFound

log = logging.getLogger("rgym.serve")
T = TypeVar("T")
REMEMBERED_CLOSES = 4096
"""Closed episode ids remembered with why, so a late request hears 'closed: idle' not 'never'."""


@dataclass(eq=False)
class Episode:
    id: str
    transport: str
    """websocket or http"""
    env: RgymEnvironment
    opened: float = field(default_factory=time.monotonic)
    last_active: float = field(default_factory=time.monotonic)
    busy: bool = False
    closed: str | None = None
    """Why it was closed, once it is."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    on_server_close: Callable[[str], Awaitable[None]] | None = None
    """Told when the server closes the episode on its own (idle, shutdown): the WebSocket
    handler closes its connection with the reason."""

    def summary(self, now: float) -> dict[str, Any]:
        state = self.env.state
        return {
            "episode_id": self.id,
            "transport": self.transport,
            "task": state.task,
            "variant": state.variant,
            "steps": state.step_count,
            "finished": state.finished,
            "busy": self.busy,
            "idle_seconds": 0.0 if self.busy else round(now - self.last_active, 3),
            "age_seconds": round(now - self.opened, 3),
        }


class EpisodeManager:
    def __init__(self, config: ServeConfig, catalog: TaskCatalog | None = None) -> None:
        self.config = config
        self.catalog = catalog or TaskCatalog(config)
        self.first_resets = FirstResets()
        self.episodes: dict[str, Episode] = {}
        self._closed: OrderedDict[str, str] = OrderedDict()
        # each live episode holds at most one worker at a time (its lock), closes included
        self._pool = ThreadPoolExecutor(
            max_workers=config.max_episodes + 2, thread_name_prefix="rgym-episode"
        )
        self._reaper: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def open(self, transport: str) -> Episode:
        """A new episode slot (no sandbox until its first reset), or AtCapacity."""
        if len(self.episodes) >= self.config.max_episodes:
            raise AtCapacity.of(len(self.episodes), self.config.max_episodes)
        episode_id = uuid.uuid4().hex
        env = RgymEnvironment(episode_id, self.config, self.catalog, self.first_resets)
        episode = Episode(episode_id, transport, env)
        self.episodes[episode_id] = episode
        log.info("episode %s opened (%s; %d live)", episode_id, transport, len(self.episodes))
        return episode

    def get(self, episode_id: str) -> Episode:
        episode = self.episodes.get(episode_id)
        if episode is None:
            raise EpisodeNotFound.for_id(episode_id, self._closed.get(episode_id))
        return episode

    async def call(self, episode: Episode, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` (blocking env work) in a worker thread, one call at a time per
        episode; the episode is never idle while it runs."""
        async with episode.lock:
            if episode.closed is not None:
                raise EpisodeNotFound.for_id(episode.id, episode.closed)
            episode.busy = True
            try:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._pool, partial(fn, *args))
            finally:
                episode.busy = False
                episode.last_active = time.monotonic()

    async def close(
        self, episode_id: str, why: str, *, tell_client: bool = False, if_idle: bool = False
    ) -> bool:
        """Close an episode and its sandbox, after any call in flight; False if it was not
        live (or, with `if_idle`, was used while this waited for it). Its slot counts against
        --max-episodes until the sandbox is gone."""
        episode = self.episodes.get(episode_id)
        if episode is None:
            return False
        async with episode.lock:
            if episode.closed is not None:
                return False
            if if_idle and episode not in self.idle(time.monotonic(), locked_ok=True):
                return False
            episode.closed = why
            try:
                await asyncio.get_running_loop().run_in_executor(self._pool, episode.env.close)
            except Exception:
                log.exception("episode %s: closing its sandbox failed", episode_id)
            finally:
                self.episodes.pop(episode_id, None)
                self._remember(episode_id, why)
        log.info("episode %s closed: %s (%d live)", episode_id, why, len(self.episodes))
        if tell_client and episode.on_server_close is not None:
            await episode.on_server_close(why)
        return True

    async def close_all(self, why: str) -> None:
        ids = list(self.episodes)
        await asyncio.gather(*(self.close(i, why, tell_client=True) for i in ids))

    def _remember(self, episode_id: str, why: str) -> None:
        self._closed[episode_id] = why
        while len(self._closed) > REMEMBERED_CLOSES:
            self._closed.popitem(last=False)

    # --- idle episodes -------------------------------------------------------------------------

    def idle(self, now: float, locked_ok: bool = False) -> list[Episode]:
        """Episodes with no request for longer than --idle-timeout and none in flight."""
        limit = self.config.idle_timeout
        return [
            e
            for e in self.episodes.values()
            if not e.busy and (locked_ok or not e.lock.locked()) and now - e.last_active > limit
        ]

    async def reap_idle(self) -> int:
        """Close the episodes idle past the timeout; how many."""
        stale = self.idle(time.monotonic())
        why = f"idle for more than {self.config.idle_timeout:g} s (--idle-timeout)"
        closed = await asyncio.gather(
            *(self.close(e.id, why, tell_client=True, if_idle=True) for e in stale)
        )
        return sum(closed)

    async def _reap_forever(self) -> None:
        interval = min(max(self.config.idle_timeout / 4, 0.05), 5.0)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reap_idle()
            except Exception:  # keep reaping whatever one close did
                log.exception("closing idle episodes failed")

    def start(self) -> None:
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())

    async def stop(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        await self.close_all("the server stopped")
        self._pool.shutdown(wait=True, cancel_futures=True)

    def summaries(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [e.summary(now) for e in self.episodes.values()]
