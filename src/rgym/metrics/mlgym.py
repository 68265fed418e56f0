"""Facts about MLGym's published runs: priority metrics per task and its run-folder names.

Kept in one place so that a reader checking rgym's reproduction of MLGym's tables can compare
this table line by line with the paper, and so the reader code holds no task knowledge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Direction = Literal["max", "min"]

#: MLGym task id -> (priority metric key in results.json, direction). The metric names are the
#: exact keys MLGym's evaluation scripts write, spaces and capitals included.
PRIORITY_METRICS: dict[str, tuple[str, Direction]] = {
    "regressionKaggleHousePrice": ("r2", "max"),
    "3SATTime": ("Time", "min"),
    "imageClassificationCifar10": ("accuracy", "max"),
    "imageClassificationFMnist": ("accuracy", "max"),
    "imageCaptioningCOCO": ("BLEU Score", "max"),
    "languageModelingFineWeb": ("val_loss", "min"),
    "naturalLanguageInferenceMNLI": ("validation_accuracy", "max"),
    "battleOfSexes": ("Score", "max"),
    "prisonersDilemma": ("Score", "max"),
    "blotto": ("Score", "max"),
    "rlBreakoutMinAtar": ("Reward Mean", "max"),
    "rlMetaMazeMisc": ("Reward Mean", "max"),
    "rlMountainCarContinuous": ("Reward Mean", "max"),
}

#: Organisation prefixes glued onto model names in MLGym's run folders (``metagen-gpt4o``). Only
#: these are stripped: a hyphen is common inside real model names (``gpt-4o``), so stripping
#: "anything up to the first hyphen" would mangle them.
KNOWN_MODEL_PREFIXES: tuple[str, ...] = ("metagen-",)

_RUN_INDEX = re.compile(r"^(?P<body>.+)_run_(?P<index>\d+)$")
_TEMPERATURE_FIELD = re.compile(r"^t-[0-9.]+$")


@dataclass(frozen=True)
class MLGymRunName:
    """The parts of an MLGym run-folder name that the leaderboard needs."""

    model: str
    task_id: str
    agent_config: str | None
    run_index: int | None


def parse_mlgym_run_name(name: str) -> MLGymRunName | None:
    """Split an MLGym run-folder name into model, task, agent config and run index.

    The rule, chosen to be simple and robust to the optional parts MLGym adds:

    1. A trailing ``_run_<i>`` gives the run index (absent: ``None``) and is removed.
    2. The rest is split on ``__``. The first ``t-<temperature>`` field anchors the layout: the
       two fields before it are the task id and the agent config, and everything before those
       is ``<prefix>__...__<model>``, of which the *last* field is the model (leading fields such
       as ``default`` are prefixes). Without a ``t-`` field, field 0 is the model and field 1
       the task.
    3. A known organisation prefix (:data:`KNOWN_MODEL_PREFIXES`, e.g. ``metagen-``) is removed
       from the start of the model. Nothing else is: hyphens inside model names are kept.

    Returns ``None`` when the name has fewer than two ``__`` fields, i.e. is not an MLGym name.
    """
    match = _RUN_INDEX.match(name)
    body, index = (match["body"], int(match["index"])) if match else (name, None)
    fields = body.split("__")
    anchor = next((i for i, f in enumerate(fields) if i >= 2 and _TEMPERATURE_FIELD.match(f)), None)
    if anchor is not None:
        model_fields = fields[: anchor - 2]
        task_id, agent_config = fields[anchor - 2], fields[anchor - 1]
    elif len(fields) >= 2:
        model_fields, task_id = fields[:1], fields[1]
        agent_config = fields[2] if len(fields) > 2 else None
    else:
        return None
    model = model_fields[-1] if model_fields else ""
    for prefix in KNOWN_MODEL_PREFIXES:
        if model.startswith(prefix) and len(model) > len(prefix):
            model = model[len(prefix) :]
            break
    if not model or not task_id:
        return None
    return MLGymRunName(model=model, task_id=task_id, agent_config=agent_config, run_index=index)
