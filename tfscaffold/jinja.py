"""The Jinja extension the templates load, in cookiecutter and in tfscaffold alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension

from tfscaffold.context import context_to_spec
from tfscaffold.errors import SpecError
from tfscaffold.hcl import hcl_map_lines, hcl_string, hcl_value
from tfscaffold.model import build_model
from tfscaffold.spec import load_spec_text
from tfscaffold.validation import apply_defaults, validate_loaded

_MODEL_CACHE: dict[str, dict[str, Any]] = {}
_MODEL_CACHE_SIZE = 64


def model_from_context(context: dict[str, Any]) -> dict[str, Any]:
    """Validate a cookiecutter context and return its template model; raise SpecError."""
    key = _cache_key(context)
    model = _MODEL_CACHE.get(key)
    if model is None:
        spec = context_to_spec(dict(context))
        loaded = load_spec_text(json.dumps(spec), "cookiecutter context")
        model = build_model(validate_loaded(loaded))
        _store_model(key, model)
    return model


def prime_model_cache(context: dict[str, Any], spec: dict[str, Any]) -> bool:
    """Store the template model of context, built from an already validated spec; return whether it was stored.

    The model is built from the spec that the context converts back to, as
    model_from_context builds it, but without validating that spec again.
    This is safe only when the converted spec equals the validated spec, so
    in any other case nothing is stored and the templates validate as before.
    """
    try:
        converted = apply_defaults(context_to_spec(dict(context)))
    except SpecError:
        return False
    if converted != spec:
        return False
    _store_model(_cache_key(context), build_model(converted))
    return True


def _cache_key(context: dict[str, Any]) -> str:
    return json.dumps(context, sort_keys=True, default=str)


def _store_model(key: str, model: dict[str, Any]) -> None:
    if len(_MODEL_CACHE) >= _MODEL_CACHE_SIZE:
        _MODEL_CACHE.clear()
    _MODEL_CACHE[key] = model


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
