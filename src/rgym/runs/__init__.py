"""Run records: manifest.json first, events.jsonl as it happens, result.json last."""

from rgym.runs.record import SCHEMA_VERSION, RunRecord, iter_events, read_run

__all__ = ["SCHEMA_VERSION", "RunRecord", "iter_events", "read_run"]
