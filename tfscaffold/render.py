"""Render the cookiecutter template folder in memory, compiling each template once."""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import Any

from cookiecutter.utils import create_env_with_context
from jinja2 import FileSystemLoader, Template

from tfscaffold.errors import INSTALL_HINT, TfscaffoldError

log = logging.getLogger(__name__)

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
PROJECT_TEMPLATE = "{{cookiecutter.project_slug}}"


def is_empty_render(text: str) -> bool:
    """Tell whether a rendered file has no content and so is left out of the project."""
    return not text.strip()


@functools.lru_cache(maxsize=1)
def template_context() -> dict[str, Any]:
    """Return cookiecutter.json as cookiecutter would load it."""
    return json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))


class Renderer:
    """The project templates, compiled once in cookiecutter's own Jinja environment."""

    def __init__(self, template_root: Path = TEMPLATE_ROOT) -> None:
        project_dir = template_root / PROJECT_TEMPLATE
        if not project_dir.is_dir():
            raise TfscaffoldError(f"template folder not found at {project_dir}; {INSTALL_HINT}")
        self.env = create_env_with_context({"cookiecutter": template_context()})
        self.env.loader = FileSystemLoader(str(project_dir))
        self.templates: list[tuple[Template, Template]] = []
        for path in sorted(p for p in project_dir.rglob("*") if p.is_file()):
            name = path.relative_to(project_dir).as_posix()
            self.templates.append((self.env.from_string(name), self.env.get_template(name)))
        log.debug("compiled %d templates from %s", len(self.templates), project_dir)

    def render(self, context: dict[str, Any]) -> dict[str, str]:
        """Return the project's files as {relative path: text}, without empty renders."""
        return {name: text for name, text in self.render_all(context).items() if not is_empty_render(text)}

    def render_all(self, context: dict[str, Any]) -> dict[str, str]:
        """Return the output of every template as {relative path: text}, empty renders included."""
        variables = {"cookiecutter": context}
        return {name.render(**variables): template.render(**variables) for name, template in self.templates}


@functools.lru_cache(maxsize=1)
def default_renderer() -> Renderer:
    """Return a Renderer for the bundled templates, built on first use."""
    return Renderer()
