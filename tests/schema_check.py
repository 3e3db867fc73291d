"""Check rendered Terraform files against a provider schema, reporting file and line.

The files are parsed with python-hcl2's Lark grammar, whose raw parse tree keeps
line numbers (its dict output does not). Every `resource`, `data` and
`provider "aws"` block is compared with the schema: each argument and nested
block, including the `content` of a `dynamic` block, must exist, and every
required argument must be set. Meta-arguments (count, for_each, depends_on,
provider, lifecycle and the like) are Terraform's, not the provider's, and are
skipped.

NOTE: an argument that takes an object (`x = { ... }`) is checked by name only,
not by the keys inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import hcl2
from lark import Token, Tree

from provider_schema import BlockSchema, ProviderSchema

ERROR = "error"
DEPRECATED = "deprecated"

META_ARGUMENTS = {
    "resource": {"count", "for_each", "depends_on", "provider"},
    "data": {"count", "for_each", "depends_on", "provider"},
    "provider": {"alias", "version"},
}
META_BLOCKS = {
    "resource": {"lifecycle", "provisioner", "connection"},
    "data": {"lifecycle"},
    "provider": set(),
}


@dataclass(frozen=True)
class Finding:
    """One error or deprecation in a rendered file."""

    file: str
    line: int
    address: str
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.address}: {self.message}"


@dataclass(frozen=True)
class Attribute:
    name: str
    line: int


@dataclass(frozen=True)
class Block:
    """One HCL block: its type, labels, the line of its header and its body."""

    type: str
    labels: tuple[str, ...]
    line: int
    attributes: tuple[Attribute, ...]
    blocks: tuple[Block, ...]


# --- parsing -------------------------------------------------------------------


def parse_blocks(text: str) -> list[Block]:
    """Return the top-level blocks of an HCL file; raise lark's errors on invalid syntax."""
    tree = hcl2.parses_to_tree(text)
    body = next(child for child in tree.children if isinstance(child, Tree) and child.data == "body")
    _, blocks = _read_body(body)
    return list(blocks)


def _read_body(body: Tree) -> tuple[tuple[Attribute, ...], tuple[Block, ...]]:
    attributes, blocks = [], []
    for child in body.children:
        if not isinstance(child, Tree):
            continue
        if child.data == "attribute":
            attributes.append(Attribute(_first_token(child.children[0]), child.meta.line))
        elif child.data == "block":
            blocks.append(_read_block(child))
    return tuple(attributes), tuple(blocks)


def _read_block(tree: Tree) -> Block:
    parts = [child for child in tree.children if isinstance(child, Tree)]
    header, body = parts[:-1], parts[-1]
    labels = tuple(_label_text(label) for label in header[1:])
    attributes, blocks = _read_body(body)
    return Block(_first_token(header[0]), labels, tree.meta.line, attributes, blocks)


def _first_token(tree: Tree) -> str:
    return next(token for token in tree.scan_values(lambda value: isinstance(value, Token))).value


def _label_text(tree: Tree) -> str:
    if tree.data == "identifier":
        return _first_token(tree)
    tokens = tree.scan_values(lambda value: isinstance(value, Token))
    return "".join(token.value for token in tokens if token.type != "DBLQUOTE")


# --- checking ------------------------------------------------------------------


def check_files(files: Mapping[str, str], schema: ProviderSchema) -> list[Finding]:
    """Check every `.tf` file of {relative path: text} and return the findings, errors and deprecations."""
    findings = []
    for name, text in sorted(files.items()):
        if name.endswith(".tf"):
            findings.extend(check_file(name, text, schema))
    return findings


def check_file(name: str, text: str, schema: ProviderSchema) -> list[Finding]:
    """Check the resources, data sources and AWS provider blocks of one file."""
    findings: list[Finding] = []
    for block in parse_blocks(text):
        if not _is_checked(block):
            continue
        checker = _BlockChecker(name, _address(block), schema.version, findings)
        target = _schema_of(block, schema)
        if target is None:
            kind = "resource type" if block.type == "resource" else "data source"
            checker.report(block.line, f"unknown {kind} {block.labels[0]!r} in AWS provider {schema.version}")
        else:
            checker.check(block, target, ())
    return findings


def _is_checked(block: Block) -> bool:
    if block.type == "provider":
        return block.labels[:1] == ("aws",)
    return block.type in ("resource", "data")


def _address(block: Block) -> str:
    return ".".join((block.type,) + block.labels[:2]) if block.type != "provider" else "provider.aws"


def _schema_of(block: Block, schema: ProviderSchema) -> BlockSchema | None:
    if block.type == "resource":
        return schema.resources.get(block.labels[0])
    if block.type == "data":
        return schema.data_sources.get(block.labels[0])
    return schema.provider


@dataclass
class _BlockChecker:
    """Checks one top-level block and its nested blocks, appending to findings."""

    file: str
    address: str
    version: str
    findings: list[Finding]

    def report(self, line: int, message: str, severity: str = ERROR) -> None:
        self.findings.append(Finding(self.file, line, self.address, message, severity))

    def check(self, block: Block, schema: BlockSchema, path: tuple[str, ...]) -> None:
        """Check block against schema; path holds the names of the enclosing nested blocks."""
        if not schema.checked:
            return
        # Meta-arguments exist only at the top level of a resource, data or provider block.
        meta_arguments = META_ARGUMENTS[block.type] if not path else set()
        meta_blocks = META_BLOCKS[block.type] if not path else set()
        set_names = set()
        for attribute in block.attributes:
            if attribute.name not in meta_arguments:
                set_names.add(attribute.name)
                self._check_argument(attribute, schema, path)
        for nested in block.blocks:
            if nested.type not in meta_blocks:
                set_names.add(self._check_nested(nested, schema, path))
        for name in sorted(schema.required - set_names):
            self.report(block.line, f"missing required argument {_dotted(path, name)!r} in AWS provider {self.version}")

    def _check_argument(self, attribute: Attribute, schema: BlockSchema, path: tuple[str, ...]) -> None:
        name = _dotted(path, attribute.name)
        if attribute.name in schema.blocks:
            self.report(attribute.line, f"{name!r} is a block in AWS provider {self.version}, not an argument")
        elif attribute.name not in schema.arguments:
            self.report(attribute.line, f"unknown argument {name!r} in AWS provider {self.version}")
        elif attribute.name in schema.deprecated:
            self.report(attribute.line, f"argument {name!r} is deprecated in AWS provider {self.version}", DEPRECATED)

    def _check_nested(self, nested: Block, schema: BlockSchema, path: tuple[str, ...]) -> str:
        """Check one nested or dynamic block; return the block name it sets."""
        dynamic = nested.type == "dynamic"
        block_name = nested.labels[0] if dynamic and nested.labels else nested.type
        name = _dotted(path, block_name)
        kind = "dynamic block" if dynamic else "block"
        if block_name in schema.arguments:
            self.report(nested.line, f"{name!r} is an argument in AWS provider {self.version}, not a block")
        elif block_name not in schema.blocks:
            self.report(nested.line, f"unknown {kind} {name!r} in AWS provider {self.version}")
        else:
            if block_name in schema.deprecated:
                self.report(nested.line, f"block {name!r} is deprecated in AWS provider {self.version}", DEPRECATED)
            body = _dynamic_content(nested) if dynamic else nested
            if body is not None:
                self.check(body, schema.blocks[block_name], path + (block_name,))
        return block_name


def _dynamic_content(block: Block) -> Block | None:
    return next((nested for nested in block.blocks if nested.type == "content"), None)


def _dotted(path: tuple[str, ...], name: str) -> str:
    return ".".join(path + (name,))


# --- references to deprecated attributes --------------------------------------


def deprecated_references(
    files: Mapping[str, str], attributes: Mapping[tuple[str, str], Mapping[str, str]], version: str
) -> list[Finding]:
    """Find references such as `data.aws_region.current.name` to deprecated attributes.

    attributes maps ("data" or "resource", type) to {attribute: advice}.
    NOTE: the search runs on the raw text, so a match inside a comment is reported too.
    """
    searches = []
    for (kind, type_name), names in attributes.items():
        prefix = r"\bdata\." if kind == "data" else r"(?<![\w.])"
        for attribute, advice in names.items():
            pattern = re.compile(rf"{prefix}{type_name}\.[\w-]+(?:\[[^\]]*\])?\.{attribute}\b")
            message = f"attribute {attribute!r} of {kind} {type_name} is deprecated in AWS provider {version}; {advice}"
            searches.append((pattern, message))
    findings = []
    for name, text in sorted(files.items()):
        if not name.endswith(".tf"):
            continue
        for pattern, message in searches:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                findings.append(Finding(name, line, match.group(0), message, DEPRECATED))
    return findings
