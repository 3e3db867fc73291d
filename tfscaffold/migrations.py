"""Migrate a spec of an older `spec_version` to the current format, in memory.

Each step turns version N into N + 1 and moves the recorded source positions
along with the values, so that errors found later still point at the line the
user wrote. The file on disk is never changed here.

Version history:

1. The first format.
2. `network.availability_zones` is renamed `network.zone_count`: it is a
   number of zones, and the old name reads like the list of zone names that
   the provider's `availability_zones` arguments take.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable

from tfscaffold.errors import SpecError
from tfscaffold.spec import JsonPath, LoadedSpec

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


def _rename_zone_count(loaded: LoadedSpec) -> tuple[dict[str, Any], PathMap]:
    """Rename `network.availability_zones` to `network.zone_count`, keeping the key's place."""
    data = dict(loaded.data)
    network = data.get("network")
    if not isinstance(network, dict) or "availability_zones" not in network:
        return data, _same_path
    data["network"] = {
        ("zone_count" if key == "availability_zones" else key): value for key, value in network.items()
    }
    return data, _zone_count_path


def _zone_count_path(path: JsonPath) -> JsonPath:
    if path[:2] == ("network", "availability_zones"):
        return ("network", "zone_count") + path[2:]
    return path


def _same_path(path: JsonPath) -> JsonPath:
    return path


# MIGRATIONS[n] migrates a version n spec to version n + 1.
MIGRATIONS: dict[int, Callable[[LoadedSpec], tuple[dict[str, Any], PathMap]]] = {
    1: _rename_zone_count,
}
