"""Load a YAML spec into plain data, remembering where each value was written.

The loader is the first check on hostile input. It reads at most
MAX_SPEC_BYTES and expands at most MAX_SPEC_NODES values, so YAML alias and
merge-key bombs are rejected before they use memory. It also rejects nesting
deeper than MAX_SPEC_DEPTH, duplicate keys and non-standard tags.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tfscaffold.errors import SpecError

log = logging.getLogger(__name__)

MAX_SPEC_BYTES = 1024 * 1024
MAX_SPEC_NODES = 20_000
MAX_SPEC_DEPTH = 32

JsonPath = tuple[Any, ...]

_YAML_TAG = "tag:yaml.org,2002:"
# Tags the spec may carry, explicitly or as YAML resolves plain scalars.
# Others, such as !!binary, !!set or application tags, are rejected.
ALLOWED_TAGS = {_YAML_TAG + name for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")}
MERGE_TAG = _YAML_TAG + "merge"
# YAML 1.1 resolves a plain `=` to this tag, which PyYAML cannot construct.
VALUE_TAG = _YAML_TAG + "value"
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class LoadedSpec:
    """A spec as data, with the source position and raw text of its values.

    `positions` contains the line and column of each value, `key_positions` those
    of each mapping key, and `plain_scalars` the text of each unquoted scalar
    that YAML read as something other than a string.
    """

    data: Any
    source: str
    positions: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    plain_scalars: dict[JsonPath, str] = field(default_factory=dict)
    key_positions: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: JsonPath, *, key: bool = False) -> tuple[int, int] | None:
        """Return (line, column) of path, or of its nearest located ancestor."""
        if key and tuple(path) in self.key_positions:
            return self.key_positions[tuple(path)]
        for end in range(len(path), -1, -1):
            position = self.positions.get(tuple(path[:end]))
            if position:
                return position
        return None

    def where(self, path: JsonPath, *, key: bool = False) -> str:
        """Return `source:line:column` for path, or for its nearest located ancestor."""
        position = self.position(path, key=key)
        return f"{self.source}:{position[0]}:{position[1]}" if position else self.source

    def typed_text(self, path: JsonPath) -> str | None:
        """Return the text of an unquoted scalar that YAML read as a non-string, else None."""
        return self.plain_scalars.get(tuple(path))


def load_spec_file(path: str | Path) -> LoadedSpec:
    """Read and parse a spec file; raise SpecError for any unreadable input."""
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise SpecError([f"{source}: spec file not found"], source)
    if path.is_dir():
        raise SpecError([f"{source}: is a directory, expected a YAML spec file"], source)
    raw = _read_bounded(path, source)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise SpecError(
            [f"{source}:{line}:{column}: invalid UTF-8 byte 0x{raw[error.start]:02x}; save the file as UTF-8"],
            source,
        ) from None
    return load_spec_text(text, source)


def _read_bounded(path: Path, source: str) -> bytes:
    """Read at most MAX_SPEC_BYTES, so a huge file, a device or a pipe cannot exhaust memory."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_SPEC_BYTES + 1)
    except OSError as error:
        raise SpecError([f"{source}: cannot read the spec file: {error.strerror or error}"], source) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(
            [f"{source}: file is larger than the {MAX_SPEC_BYTES} byte limit for a spec"],
            source,
        )
    return raw


def load_spec_text(text: str, source: str = "<spec>") -> LoadedSpec:
    """Parse YAML text into a LoadedSpec; raise SpecError for syntax and shape errors."""
    node = _compose(text, source)
    if node is None:
        raise SpecError([f"{source}: the spec is empty; start from examples/payment-service.yaml"], source)
    builder = _Builder(source)
    data = builder.build(node, (), 0)
    if builder.problems:
        raise SpecError(builder.problems, source)
    if not isinstance(data, dict):
        kind = _yaml_kind(data)
        raise SpecError([f"{source}:1:1: the top level is {kind}, expected a mapping of spec keys"], source)
    return LoadedSpec(data, source, builder.positions, builder.plain_scalars, builder.key_positions)


def _compose(text: str, source: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise SpecError([f"{where}: invalid YAML: {_yaml_problem(error)}"], source) from None
    except yaml.YAMLError as error:
        raise SpecError([f"{source}: invalid YAML: {error}"], source) from None
    except RecursionError:
        # PyYAML's composer recurses once per nesting level.
        raise SpecError([f"{source}: invalid YAML: nested too deeply; a spec nests at most {MAX_SPEC_DEPTH} levels"],
                        None) from None


def _yaml_problem(error: yaml.MarkedYAMLError) -> str:
    text = f"{error.context}, {error.problem}" if error.context else str(error.problem)
    if "'\\t'" in text:
        text += "; indent with spaces, not tabs"
    return text


def _yaml_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


class _Builder:
    """Turn a composed YAML node tree into data, recording positions and problems.

    Every node visited counts towards MAX_SPEC_NODES, including each visit of
    an aliased node and each merged key, so the work is bounded however the
    document shares nodes.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.positions: dict[JsonPath, tuple[int, int]] = {}
        self.key_positions: dict[JsonPath, tuple[int, int]] = {}
        self.plain_scalars: dict[JsonPath, str] = {}
        self.problems: list[str] = []
        self.nodes = 0
        self.constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: JsonPath, depth: int) -> Any:
        self._count(node)
        if depth > MAX_SPEC_DEPTH:
            raise SpecError([f"{self._at(node)}: nested more than {MAX_SPEC_DEPTH} levels deep"], self.source)
        self.positions.setdefault(path, _mark(node))
        if node.tag == VALUE_TAG and isinstance(node, yaml.ScalarNode):
            return node.value
        if node.tag not in ALLOWED_TAGS:
            self._problem(node, path, f"the YAML tag {node.tag.replace(_YAML_TAG, '!!')} is not supported in a spec")
            return None
        if isinstance(node, yaml.MappingNode):
            return self._build_mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (index,), depth + 1) for index, item in enumerate(node.value)]
        return self._build_scalar(node, path)

    def _count(self, node: yaml.Node) -> None:
        self.nodes += 1
        if self.nodes > MAX_SPEC_NODES:
            raise SpecError(
                [f"{self._at(node)}: more than {MAX_SPEC_NODES} values once YAML aliases and merge keys are "
                 "expanded; a spec this large is not supported"],
                self.source,
            )

    def _build_mapping(self, node: yaml.MappingNode, path: JsonPath, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        explicit, merged = self._pairs(node, depth)
        for key_node, value_node in explicit:
            key = self._key(key_node, path)
            child = path + (key,)
            if key in result:
                first = self.key_positions[child][0]
                self._problem(key_node, child, f"duplicate key {json.dumps(key)}, first defined on line {first}; remove one")
                continue
            self.key_positions[child] = _mark(key_node)
            result[key] = self.build(value_node, child, depth + 1)
        for key_node, value_node in merged:
            key = self._key(key_node, path)
            if key not in result:
                self.key_positions[path + (key,)] = _mark(key_node)
                result[key] = self.build(value_node, path + (key,), depth + 1)
        return result

    def _pairs(self, node: yaml.MappingNode, depth: int) -> tuple[list[Any], list[Any]]:
        """Split a mapping into its own pairs and the pairs merged in with `<<`.

        As in YAML 1.1, a mapping's own keys override merged ones, and an
        earlier merged mapping overrides a later one.
        """
        explicit, merged = [], []
        for key_node, value_node in node.value:
            if key_node.tag != MERGE_TAG:
                explicit.append((key_node, value_node))
                continue
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for merged_node in sources:
                self._count(merged_node)
                if not isinstance(merged_node, yaml.MappingNode) or depth > MAX_SPEC_DEPTH:
                    raise SpecError([f"{self._at(merged_node)}: a merge key (<<) must refer to a mapping"], self.source)
                own, inherited = self._pairs(merged_node, depth + 1)
                for pair in own + inherited:
                    self._count(pair[0])
                merged.extend(own + inherited)
        return explicit, merged

    def _key(self, key_node: yaml.Node, path: JsonPath) -> str:
        if not isinstance(key_node, yaml.ScalarNode):
            self._problem(key_node, path, "a mapping key must be a plain word, not a list or mapping")
            return "<complex key>"
        key = _join_surrogate_pairs(key_node.value)
        if key is None:
            self._problem(key_node, path, "the key contains an invalid Unicode escape (a lone surrogate)")
            return key_node.value
        return key

    def _build_scalar(self, node: yaml.ScalarNode, path: JsonPath) -> Any:
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as error:
            self._problem(node, path, f"invalid value {node.value!r}: {getattr(error, 'problem', error)}")
            return None
        if isinstance(value, str):
            value = _join_surrogate_pairs(value)
            if value is None:
                self._problem(node, path, "the value contains an invalid Unicode escape (a lone surrogate)")
                return None
        if node.style is None and not isinstance(value, str):
            self.plain_scalars[path] = node.value
        return value

    def _problem(self, node: yaml.Node, path: JsonPath, message: str) -> None:
        self.problems.append(f"{self._at(node)}: {_dotted(path)}: {message}")

    def _at(self, node: yaml.Node) -> str:
        line, column = _mark(node)
        return f"{self.source}:{line}:{column}"


def _join_surrogate_pairs(text: str) -> str | None:
    """Return text with escaped UTF-16 pairs such as "\\ud83d\\ude80" joined, or None for a lone surrogate.

    PyYAML decodes each `\\u` escape on its own, so JSON with characters
    outside the Basic Multilingual Plane arrives as surrogate pairs.
    """
    if not _SURROGATE.search(text):
        return text
    try:
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        return None


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _dotted(path: JsonPath) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(str(part)):
            text += f".{part}" if text else str(part)
        else:
            text += f"[{json.dumps(str(part), ensure_ascii=False)}]"
    return text or "(top level)"


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def dotted_path(path: JsonPath) -> str:
    """Format a JSON path as `service.name`, `secrets[0].name` or `tags["Cost Center"]`."""
    return _dotted(tuple(path))


def dump_spec(spec: dict[str, Any]) -> str:
    """Serialise a spec as block-style YAML in the order its keys were given."""
    return yaml.safe_dump(spec, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)
