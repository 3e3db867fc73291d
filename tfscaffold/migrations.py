"""Migrate a spec of an older `spec_version` to the current format, in memory.

Each step turns version N into N + 1 and moves the recorded source positions
along with the values, so that errors found later still point at the line the
user wrote. The file on disk is never changed here.

Version history:

1. The first format: `secrets` is a list of `{name, description}` items.
2. `secrets` is a mapping keyed by parameter name, each value holding the
   optional `description`. Names are unique by construction, and the spec has
   the same shape as the cookiecutter variable and the Terraform `for_each` map.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable

from tfscaffold.errors import SpecError
from tfscaffold.spec import JsonPath, LoadedSpec, dotted_path

log = logging.getLogger(__name__)

CURRENT_SPEC_VERSION = 2

# Renames a path of the older format to the path of the same value in the newer one.
PathMap = Callable[[JsonPath], JsonPath]


def migrate_loaded(loaded: LoadedSpec) -> LoadedSpec:
    """Return loaded migrated to CURRENT_SPEC_VERSION; raise SpecError for a version this release cannot read.

    A missing or non-integer spec_version is left for the schema to report.
    """
    version = loaded.data.get("spec_version")
    if not isinstance(version, int) or isinstance(version, bool):
        return loaded
    if version > CURRENT_SPEC_VERSION:
        raise SpecError(
            [f"{loaded.where(('spec_version',))}: spec_version: {version} is newer than the newest version this "
             f"tfscaffold reads ({CURRENT_SPEC_VERSION}); upgrade tfscaffold"],
            loaded.source,
        )
    if version < 1:
        raise SpecError(
            [f"{loaded.where(('spec_version',))}: spec_version: invalid value {version}; "
             f"expected a version from 1 to {CURRENT_SPEC_VERSION}"],
            loaded.source,
        )
    for step in range(version, CURRENT_SPEC_VERSION):
        loaded = _apply_step(loaded, step)
    return loaded


def _apply_step(loaded: LoadedSpec, version: int) -> LoadedSpec:
    data, path_map = MIGRATIONS[version](loaded)
    data["spec_version"] = version + 1
    log.debug("%s: migrated spec_version %d to %d in memory", loaded.source, version, version + 1)
    return dataclasses.replace(
        loaded,
        data=data,
        positions=_move_keys(loaded.positions, path_map),
        plain_scalars=_move_keys(loaded.plain_scalars, path_map),
    )


def _move_keys(by_path: dict[JsonPath, Any], path_map: PathMap) -> dict[JsonPath, Any]:
    moved: dict[JsonPath, Any] = {}
    for path, value in by_path.items():
        moved.setdefault(path_map(path), value)
    return moved


def _secrets_list_to_mapping(loaded: LoadedSpec) -> tuple[dict[str, Any], PathMap]:
    """Turn `secrets: [{name, description}]` into `secrets: {name: {description}}`."""
    data = dict(loaded.data)
    secrets = data.get("secrets")
    if secrets is None:
        return data, _same_path
    if not isinstance(secrets, list):
        where = loaded.where(("secrets",))
        raise SpecError([f"{where}: secrets: spec_version 1 expects a list of {{name, description}} items"],
                        loaded.source)

    mapping: dict[str, Any] = {}
    names: dict[int, str] = {}
    problems: list[str] = []
    for index, item in enumerate(secrets):
        name = _secret_name(item, loaded.plain_scalars.get(("secrets", index, "name")))
        problem = _secret_item_problem(item, name, names)
        if problem:
            problems.append(f"{loaded.where(('secrets', index))}: {dotted_path(('secrets', index))}: {problem}")
            continue
        names[index] = name
        mapping[name] = {key: value for key, value in item.items() if key != "name"}
    if problems:
        raise SpecError(problems, loaded.source)
    data["secrets"] = mapping
    return data, lambda path: _secret_path(path, names)


def _secret_name(item: Any, plain_text: str | None) -> str | None:
    """Return the name as written: an unquoted `no` or `123` is the text, not a YAML 1.1 boolean or number."""
    if not isinstance(item, dict):
        return None
    name = item.get("name")
    if not isinstance(name, str) and plain_text is not None:
        return plain_text
    return name if isinstance(name, str) else None


def _secret_item_problem(item: Any, name: str | None, seen: dict[int, str]) -> str | None:
    if not isinstance(item, dict):
        return "invalid value; expected a mapping with name and description"
    if name is None:
        return "name is required and must be a string"
    for index, other in seen.items():
        if other == name:
            return f"duplicate secret name {name!r}, first given as secrets[{index}]; remove one"
    return None


def _secret_path(path: JsonPath, names: dict[int, str]) -> JsonPath:
    """Map `secrets[i]...` to `secrets.<name>...`; the `name` key becomes the mapping key itself."""
    if len(path) < 2 or path[0] != "secrets" or path[1] not in names:
        return path
    rest = path[2:]
    if rest[:1] == ("name",):
        rest = rest[1:]
    return ("secrets", names[path[1]]) + rest


def _same_path(path: JsonPath) -> JsonPath:
    return path


# MIGRATIONS[n] migrates a version n spec to version n + 1.
MIGRATIONS: dict[int, Callable[[LoadedSpec], tuple[dict[str, Any], PathMap]]] = {
    1: _secrets_list_to_mapping,
}
