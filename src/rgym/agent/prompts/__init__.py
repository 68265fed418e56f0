"""The agent's prompts: jinja2 templates in this folder, each overridable by a file of the same
name in the agent option `templates_dir` (system, task, next_step, format_error, footer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

HERE = Path(__file__).parent
NAMES = ("system", "task", "next_step", "format_error")


class Prompts:
    def __init__(self, templates_dir: Path | str | None = None) -> None:
        loaders = [jinja2.FileSystemLoader(str(templates_dir))] if templates_dir else []
        env = jinja2.Environment(
            loader=jinja2.ChoiceLoader([*loaders, jinja2.FileSystemLoader(str(HERE))]),
            keep_trailing_newline=False,
            undefined=jinja2.StrictUndefined,
            autoescape=False,
        )
        self.templates = {n: env.get_template(f"{n}.jinja") for n in NAMES}

    def render(self, name: str, **values: Any) -> str:
        return self.templates[name].render(**values).strip()

    def message(self, role: str, name: str, **values: Any) -> dict[str, Any]:
        return {"role": role, "content": self.render(name, **values)}

    def system(self, config: Any, specs: Any, command_timeout: float) -> dict[str, Any]:
        """The research agent's system message, from its AgentConfig and tool specs: one
        rendering for the agent that sends it and the exporter that rebuilds older runs."""
        from rgym.agent.tools import command_docs

        return self.message(
            "system",
            "system",
            command_docs=command_docs(specs),
            window=config.window,
            protocol=config.protocol,
            memory=config.memory,
            command_timeout=f"{command_timeout:g}",
        )
