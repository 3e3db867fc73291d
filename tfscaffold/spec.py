"""Load a YAML spec into plain data, remembering where each value was written."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tfscaffold.errors import SpecError

log = logging.getLogger(__name__)

MAX_SPEC_BYTES = 1024 * 1024
MAX_SPEC_NODES = 20_000

JsonPath = tuple[Any, ...]


@dataclass
class LoadedSpec:
    """A spec as data, with the source position and raw text of its values."""

    data: Any
    source: str
    positions: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    plain_scalars: dict[JsonPath, str] = field(default_factory=dict)

    def where(self, path: JsonPath) -> str:
        """Return `source:line:column` for the nearest located ancestor of path."""
        for end in range(len(path), -1, -1):
            position = self.positions.get(tuple(path[:end]))
            if position:
                return f"{self.source}:{position[0]}:{position[1]}"
        return self.source


def load_spec_file(path: str | Path) -> LoadedSpec:
    """Read and parse a spec file; raise SpecError for any unreadable input."""
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise SpecError([f"{source}: spec file not found"], None)
    if path.is_dir():
        raise SpecError([f"{source}: is a directory, expected a YAML spec file"], None)
    size = path.stat().st_size
    if size > MAX_SPEC_BYTES:
        raise SpecError(
            [f"{source}: file is {size} bytes, larger than the {MAX_SPEC_BYTES} byte limit for a spec"],
            None,
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise SpecError(
            [f"{source}:{line}: invalid UTF-8 byte 0x{raw[error.start]:02x}; save the file as UTF-8"],
            None,
        ) from None
    return load_spec_text(text, source)


def load_spec_text(text: str, source: str = "<spec>") -> LoadedSpec:
    """Parse YAML text into a LoadedSpec; raise SpecError for syntax and shape errors."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise SpecError([f"{where}: invalid YAML: {error.problem}"], None) from None
    except yaml.YAMLError as error:
        raise SpecError([f"{source}: invalid YAML: {error}"], None) from None
    if node is None:
        raise SpecError([f"{source}: the spec is empty; start from examples/payment-service.yaml"], None)
    builder = _Builder(source)
    data = builder.build(node, ())
    if builder.problems:
        raise SpecError(builder.problems, None)
    if not isinstance(data, dict):
        kind = _yaml_kind(data)
        raise SpecError([f"{source}:1:1: the top level is {kind}, expected a mapping of spec keys"], None)
    return LoadedSpec(data, source, builder.positions, builder.plain_scalars)


def _yaml_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


class _Builder:
    """Turn a composed YAML node tree into data, recording positions and duplicates."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.positions: dict[JsonPath, tuple[int, int]] = {}
        self.plain_scalars: dict[JsonPath, str] = {}
        self.problems: list[str] = []
        self.nodes = 0
        self.constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        self.nodes += 1
        if self.nodes > MAX_SPEC_NODES:
            raise SpecError(
                [f"{self.source}: more than {MAX_SPEC_NODES} values (YAML aliases expand); "
                 "a spec this large is not supported"],
                None,
            )
        self.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            return self._build_mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        return self._build_scalar(node, path)

    def _build_mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        self.constructor.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "<complex key>"
            child = path + (key,)
            if key in result:
                line = key_node.start_mark.line + 1
                first = self.positions[child][0]
                self.problems.append(
                    f"{self.source}:{line}:{key_node.start_mark.column + 1}: "
                    f"{_dotted(child)}: duplicate key {key!r}, first defined on line {first}; remove one"
                )
                continue
            self.positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, child)
        return result

    def _build_scalar(self, node: yaml.ScalarNode, path: JsonPath) -> Any:
        value = self.constructor.construct_object(node, deep=True)
        if node.style is None and not isinstance(value, str):
            self.plain_scalars[path] = node.value
        return value


def _dotted(path: JsonPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


def dotted_path(path: JsonPath) -> str:
    """Format a JSON path as `service.name` or `secrets[0].name`."""
    return _dotted(tuple(path))


def dump_spec(spec: dict[str, Any]) -> str:
    """Serialise a spec as block-style YAML in the order its keys were given."""
    return yaml.safe_dump(spec, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)
