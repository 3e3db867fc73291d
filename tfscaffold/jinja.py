"""The Jinja extension the templates load, in cookiecutter and in tfscaffold alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension

from tfscaffold.context import context_to_spec
from tfscaffold.hcl import hcl_map_lines, hcl_string, hcl_value
from tfscaffold.model import build_model
from tfscaffold.spec import load_spec_text
from tfscaffold.validation import validate_loaded

_MODEL_CACHE: dict[str, dict[str, Any]] = {}
_MODEL_CACHE_SIZE = 64


def model_from_context(context: dict[str, Any]) -> dict[str, Any]:
    """Validate a cookiecutter context and return its template model; raise SpecError."""
    key = json.dumps(context, sort_keys=True, default=str)
    model = _MODEL_CACHE.get(key)
    if model is None:
        spec = context_to_spec(dict(context))
        loaded = load_spec_text(json.dumps(spec), "cookiecutter context")
        model = build_model(validate_loaded(loaded))
        if len(_MODEL_CACHE) >= _MODEL_CACHE_SIZE:
            _MODEL_CACHE.clear()
        _MODEL_CACHE[key] = model
    return model


class TfscaffoldExtension(Extension):
    """Adds the filters `tfscaffold_model`, `hcl`, `hcl_string`, `hcl_map`, `python_json` and `template_dir`."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["tfscaffold_model"] = model_from_context
        environment.filters["hcl"] = hcl_value
        environment.filters["hcl_string"] = hcl_string
        environment.filters["hcl_map"] = hcl_map_lines
        environment.filters["python_json"] = python_json_literal
        environment.filters["template_dir"] = template_dir


def template_dir(repo_dir: str) -> str:
    """Return the absolute path of the template a hook belongs to.

    Cookiecutter's `_repo_dir` is relative when the template was given as a
    relative path, but the hooks run in the new project's folder. Cookiecutter
    renders hook scripts with the template folder as the working directory
    (cookiecutter 2.x, `run_hook_from_repo_dir`), so that folder is tried too.
    """
    for candidate in (Path(repo_dir), Path.cwd()):
        if (candidate / "cookiecutter.json").is_file() and (candidate / "tfscaffold").is_dir():
            return str(candidate.resolve())
    return str(Path(repo_dir).resolve())


def python_json_literal(value: Any) -> str:
    """Return value as JSON inside a Python string literal, keeping mapping order.

    Jinja's `tojson` sorts keys, which would reorder secrets and tags on the
    way to the hooks.
    """
    return json.dumps(json.dumps(value, default=str))
