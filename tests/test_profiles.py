"""Environment profiles: the settings each one renders, overrides, and what the CLI explains."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from mirror import mirror_cli_config
from spec_builders import EXAMPLE, make_spec
from tfscaffold import cli
from tfscaffold.context import context_to_spec, spec_to_context
from tfscaffold.errors import SpecError, TerraformNotFoundError
from tfscaffold.generate import generate, render_files
from tfscaffold.naming import derive_names
from tfscaffold.profiles import resolve_profile
from tfscaffold.terraform import find_terraform

ENVIRONMENTS = ["test", "dev", "staging", "prod"]

EXPECTED_PROFILES = {
    "test": {"deletion_protection": False, "final_snapshot": False, "prevent_destroy": False,
             "backup_retention_days": 1, "kms_deletion_window_days": 7},
    "dev": {"deletion_protection": False, "final_snapshot": False, "prevent_destroy": False,
            "backup_retention_days": 1, "kms_deletion_window_days": 7},
    "staging": {"deletion_protection": True, "final_snapshot": True, "prevent_destroy": True,
                "backup_retention_days": 14, "kms_deletion_window_days": 30},
    "prod": {"deletion_protection": True, "final_snapshot": True, "prevent_destroy": True,
             "backup_retention_days": 35, "kms_deletion_window_days": 30},
}

# What `terraform destroy` does with each resource type the templates render.
# A new resource type fails test_every_resource_type_is_reviewed until it is
# listed here, so the change that adds it also decides whether it outlives destroy.
DESTROY_BEHAVIOUR = {
    "aws_appautoscaling_policy": "deleted, and AWS deletes its target-tracking alarms with it",
    "aws_appautoscaling_target": "deregistered",
    "aws_cloudwatch_log_group": "deleted after every writer, with retention while it exists",
    "aws_db_subnet_group": "deleted",
    "aws_default_security_group": "left to AWS, which deletes it with the VPC",
    "aws_ecs_cluster": "deleted; AWS lists it as INACTIVE for a while",
    "aws_ecs_service": "deleted after its tasks stop",
    "aws_ecs_task_definition": "deregistered; AWS keeps the revision as INACTIVE",
    "aws_eip": "released",
    "aws_flow_log": "deleted before its log group, so nothing writes to the group afterwards",
    "aws_iam_role": "deleted",
    "aws_iam_role_policy": "deleted",
    "aws_iam_role_policy_attachment": "detached; the AWS managed policy itself stays",
    "aws_internet_gateway": "deleted",
    "aws_kms_alias": "deleted",
    "aws_kms_key": "scheduled for deletion after kms_deletion_window_days",
    "aws_lb": "deleted unless deletion_protection",
    "aws_lb_listener": "deleted",
    "aws_lb_target_group": "deleted",
    "aws_nat_gateway": "deleted",
    "aws_rds_cluster": "deleted unless deletion_protection; final snapshot only with final_snapshot",
    "aws_rds_cluster_instance": "deleted",
    "aws_rds_cluster_parameter_group": "deleted after the cluster",
    "aws_route": "deleted",
    "aws_route_table": "deleted",
    "aws_route_table_association": "deleted",
    "aws_security_group": "deleted",
    "aws_security_group_rule": "deleted",
    "aws_ssm_parameter": "deleted at once; SSM has no recovery window",
    "aws_subnet": "deleted",
    "aws_vpc": "deleted",
}


def spec_problems(**arguments: Any) -> list[str]:
    """Return the problems of an invalid spec, without their `spec.yaml:line:column: ` prefix."""
    with pytest.raises(SpecError) as caught:
        make_spec(**arguments)
    return [problem.split(": ", 1)[1] for problem in caught.value.problems]


def parse_resources(text: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Parse rendered HCL into {(type, name): attributes}."""
    resources = {}
    for block in hcl2.loads(text).get("resource", []):
        for kind, named in block.items():
            for name, body in named.items():
                resources[(kind.strip('"'), name.strip('"'))] = body
    return resources


def all_resources(files: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    resources = {}
    for name, text in files.items():
        if name.endswith(".tf"):
            resources.update(parse_resources(text))
    return resources


def literal(value: Any) -> str:
    """Return the text of a quoted HCL string literal; fail for any expression."""
    assert isinstance(value, str), f"not a string: {value!r}"
    assert value.startswith('"'), f"not a literal: {value!r}"
    assert value.endswith('"'), f"not a literal: {value!r}"
    assert "${" not in value, f"string with an interpolation: {value!r}"
    return value[1:-1]


def prevents_destroy(body: dict[str, Any]) -> bool:
    return any(block.get("prevent_destroy") is True for block in body.get("lifecycle", []))


def override_combinations(environment: str) -> list[dict[str, Any]]:
    """Return protection sections covering every value of every boolean setting, absent included.

    The two number settings cycle through absent, their minimum and their maximum.
    In prod a combination with a weaker value carries the confirmation, so it is valid.
    """
    numbers = [{}, {"backup_retention_days": 1, "kms_deletion_window_days": 7},
               {"backup_retention_days": 35, "kms_deletion_window_days": 30}]
    sections = []
    choices = [None, False, True]
    for index, values in enumerate(itertools.product(choices, choices, choices)):
        keys = ("deletion_protection", "final_snapshot", "prevent_destroy")
        section = {key: value for key, value in zip(keys, values) if value is not None}
        section.update(numbers[index % len(numbers)])
        profile = EXPECTED_PROFILES[environment]
        if environment == "prod" and any(value < profile[key] for key, value in section.items()):
            section["allow_weaker_prod_protection"] = True
        sections.append(section)
    return sections


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_profile_settings_match_table(environment):
    profile = resolve_profile(make_spec(environment))

    assert profile.settings == EXPECTED_PROFILES[environment]
    assert profile.overrides == {}
    assert profile.destroyable is (environment in ("test", "dev"))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_rendered_protections_follow_profile(environment):
    expected = EXPECTED_PROFILES[environment]
    spec = make_spec(environment)
    resources = all_resources(render_files(spec))
    cluster = resources[("aws_rds_cluster", "this")]
    key = resources[("aws_kms_key", "this")]
    alb = resources[("aws_lb", "this")]

    assert cluster["deletion_protection"] is expected["deletion_protection"]
    assert alb["enable_deletion_protection"] is expected["deletion_protection"]
    assert cluster["skip_final_snapshot"] is not expected["final_snapshot"]
    assert cluster["backup_retention_period"] == expected["backup_retention_days"]
    assert key["deletion_window_in_days"] == expected["kms_deletion_window_days"]
    assert prevents_destroy(cluster) is expected["prevent_destroy"]
    assert prevents_destroy(key) is expected["prevent_destroy"]
    if expected["final_snapshot"]:
        assert literal(cluster["final_snapshot_identifier"]) == derive_names(spec)["final_snapshot"]
    else:
        assert "final_snapshot_identifier" not in cluster


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_overrides_render_for_every_combination(environment):
    for section in override_combinations(environment):
        spec = make_spec(environment, protection=section)
        expected = {**EXPECTED_PROFILES[environment], **section}
        expected.pop("allow_weaker_prod_protection", None)
        files = render_files(spec)
        resources = parse_resources(files["rds.tf"])
        cluster = resources[("aws_rds_cluster", "this")]

        assert resolve_profile(spec).settings == expected, section
        assert cluster["deletion_protection"] is expected["deletion_protection"], section
        assert cluster["skip_final_snapshot"] is not expected["final_snapshot"], section
        assert prevents_destroy(cluster) is expected["prevent_destroy"], section
        assert render_files(spec) == files, f"second render differs for {section}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_render_calls_timestamp_or_uuid(environment):
    for section in [None] + override_combinations(environment):
        files = render_files(make_spec(environment, protection=section))
        for name, text in files.items():
            assert "timestamp(" not in text, f"{name} with protection {section}"
            assert "uuid(" not in text, f"{name} with protection {section}"


@pytest.mark.parametrize("environment", ["test", "dev"])
def test_destroyable_profile_keeps_no_generated_snapshot(environment):
    for section in [None] + override_combinations(environment):
        spec = make_spec(environment, protection=section)
        cluster = parse_resources(render_files(spec)["rds.tf"])[("aws_rds_cluster", "this")]

        if cluster["skip_final_snapshot"] is True:
            assert "final_snapshot_identifier" not in cluster, section
        else:
            assert section and section.get("final_snapshot") is True, "a snapshot kept without an override"
            assert literal(cluster["final_snapshot_identifier"]) == derive_names(spec)["final_snapshot"]


@pytest.mark.parametrize(
    ("environment", "suffix", "identifier"),
    [
        ("prod", "prod", "payment-service-prod-final"),
        ("prod", "prod-eu1", "payment-service-prod-eu1-final"),
        ("prod", "eu1", "payment-service-eu1-prod-final"),
        ("staging", "stg", "payment-service-stg-staging-final"),
        ("test", "production", "payment-service-production-test-final"),
    ],
)
def test_final_snapshot_identifier_is_derived(environment, suffix, identifier):
    spec = make_spec(environment, suffix)

    assert derive_names(spec)["final_snapshot"] == identifier


def test_final_snapshot_identifiers_differ_per_suffix():
    first = derive_names(make_spec("prod", "eu1"))["final_snapshot"]
    second = derive_names(make_spec("prod", "us1"))["final_snapshot"]

    assert first != second


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_aws_written_log_groups_are_precreated(environment):
    spec = make_spec(environment)
    names = derive_names(spec)
    resources = all_resources(render_files(spec))
    groups = {literal(body["name"]): name for (kind, name), body in resources.items()
              if kind == "aws_cloudwatch_log_group"}
    cluster = resources[("aws_rds_cluster", "this")]
    ecs_cluster = resources[("aws_ecs_cluster", "this")]

    for export in cluster["enabled_cloudwatch_logs_exports"]:
        group = f"/aws/rds/cluster/{names['aurora_cluster']}/{literal(export)}"
        assert group in groups
        assert f"${{aws_cloudwatch_log_group.{groups[group]}}}" in cluster["depends_on"]
    insights = [setting for setting in ecs_cluster["setting"] if literal(setting["name"]) == "containerInsights"]
    assert literal(insights[0]["value"]) == "enabled"
    group = f"/aws/ecs/containerinsights/{names['cluster']}/performance"
    assert group in groups
    assert f"${{aws_cloudwatch_log_group.{groups[group]}}}" in ecs_cluster["depends_on"]


def test_every_resource_type_is_reviewed():
    for environment in ENVIRONMENTS:
        rendered = {kind for kind, _ in all_resources(render_files(make_spec(environment)))}

        assert rendered <= set(DESTROY_BEHAVIOUR), (
            f"add {sorted(rendered - set(DESTROY_BEHAVIOUR))} to DESTROY_BEHAVIOUR with what destroy leaves behind"
        )


def test_prod_weakening_requires_confirmation():
    problems = spec_problems(environment="prod", protection={"deletion_protection": False, "backup_retention_days": 7})

    assert problems == [
        "protection.deletion_protection: false is weaker than the prod profile's true; "
        "set protection.allow_weaker_prod_protection: true to confirm",
        "protection.backup_retention_days: 7 is weaker than the prod profile's 35; "
        "set protection.allow_weaker_prod_protection: true to confirm",
    ]


def test_prod_weakening_with_confirmation_accepted():
    spec = make_spec("prod", protection={"prevent_destroy": False, "allow_weaker_prod_protection": True})
    profile = resolve_profile(spec)

    assert profile.settings["prevent_destroy"] is False
    assert profile.weakened() == ["prevent_destroy"]


def test_prod_equal_override_needs_no_confirmation():
    spec = make_spec("prod", protection={"deletion_protection": True, "kms_deletion_window_days": 30})

    assert resolve_profile(spec).weakened() == []


def test_confirmation_outside_prod_rejected():
    problems = spec_problems(environment="staging",
                             protection={"prevent_destroy": False, "allow_weaker_prod_protection": True})

    assert problems == [
        "protection.allow_weaker_prod_protection: applies only to the prod environment, "
        "not 'staging'; remove it",
    ]


def test_confirmation_without_weakening_rejected():
    problems = spec_problems(environment="prod",
                             protection={"final_snapshot": True, "allow_weaker_prod_protection": True})

    assert problems == [
        "protection.allow_weaker_prod_protection: no override is weaker than the prod profile; "
        "remove it, so that a later weakening needs a new confirmation",
    ]


def test_staging_weakening_needs_no_confirmation():
    spec = make_spec("staging", protection={"deletion_protection": False, "prevent_destroy": False})

    assert resolve_profile(spec).settings["deletion_protection"] is False
    assert resolve_profile(spec).settings["prevent_destroy"] is False


def test_test_profile_accepts_stronger_overrides():
    spec = make_spec("test", protection={"prevent_destroy": True, "kms_deletion_window_days": 30})

    assert resolve_profile(spec).settings["prevent_destroy"] is True
    assert resolve_profile(spec).settings["kms_deletion_window_days"] == 30


@pytest.mark.parametrize(
    ("protection", "message"),
    [
        ({"backup_retention_days": 0}, "protection.backup_retention_days: invalid value 0; expected a whole number from 1 to 35"),
        ({"backup_retention_days": 36}, "protection.backup_retention_days: invalid value 36; expected a whole number from 1 to 35"),
        ({"kms_deletion_window_days": 6}, "protection.kms_deletion_window_days: invalid value 6; expected a whole number from 7 to 30"),
        ({"kms_deletion_window_days": 31}, "protection.kms_deletion_window_days: invalid value 31; expected a whole number from 7 to 30"),
        ({"final_snapshot_identifier": "mine"}, "protection.final_snapshot_identifier: unknown key (did you mean \"final_snapshot\"?)"),
    ],
)
def test_protection_values_checked(protection, message):
    problems = spec_problems(protection=protection)

    assert len(problems) == 1
    assert message in problems[0]


def test_protection_survives_cookiecutter_context():
    spec = make_spec("prod", protection={"backup_retention_days": 7, "allow_weaker_prod_protection": True})
    context = spec_to_context(spec)

    assert context["protection_backup_retention_days"] == "7"
    assert context["protection_final_snapshot"] == ""
    assert context_to_spec(context)["protection"] == {"backup_retention_days": 7, "allow_weaker_prod_protection": True}


def test_cookiecutter_no_means_false():
    context = spec_to_context(make_spec("test"))
    context["protection_deletion_protection"] = "no"
    context["protection_final_snapshot"] = "yes"

    assert context_to_spec(context)["protection"] == {"deletion_protection": False, "final_snapshot": True}


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    data = copy.deepcopy(spec)
    del data["project_slug"]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_validate_explains_default_profile(capsys):
    code = cli.main(["validate", str(EXAMPLE)])

    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{EXAMPLE}: valid (test environment, project payment-service-test)",
        "profile test (destroyable), no overrides:",
        "  deletion_protection       false  from the profile",
        "  final_snapshot            false  from the profile",
        "  prevent_destroy           false  from the profile",
        "  backup_retention_days     1      from the profile",
        "  kms_deletion_window_days  7      from the profile",
        "terraform destroy: deletes every resource; AWS deletes the KMS key 7 days later",
    ]


def test_validate_explains_prod_overrides(capsys, tmp_path):
    protection = {"deletion_protection": False, "prevent_destroy": False, "kms_deletion_window_days": 30,
                  "allow_weaker_prod_protection": True}
    path = write_spec(tmp_path / "prod.yaml", make_spec("prod", "eu1", protection=protection))

    code = cli.main(["validate", str(path)])

    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{path}: valid (prod environment, project payment-service-eu1)",
        "profile prod (protected), 3 overrides, 2 weaker than the profile, "
        "confirmed by protection.allow_weaker_prod_protection:",
        "  deletion_protection       false  override, weaker than the profile's true",
        "  final_snapshot            true   from the profile",
        "  prevent_destroy           false  override, weaker than the profile's true",
        "  backup_retention_days     35     from the profile",
        "  kms_deletion_window_days  30     override, same as the profile",
        "terraform destroy: deletes every resource and keeps the final snapshot payment-service-eu1-prod-final; "
        "AWS deletes the KMS key 30 days later",
    ]


@pytest.mark.parametrize(
    ("protection", "outcome"),
    [
        ({}, "terraform destroy: rejected by Terraform while prevent_destroy is true"),
        ({"prevent_destroy": False},
         "terraform destroy: rejected by AWS for the Aurora cluster and load balancer while deletion_protection is true"),
    ],
)
def test_validate_explains_destroy_outcome(capsys, tmp_path, protection, outcome):
    path = write_spec(tmp_path / "staging.yaml", make_spec("staging", protection=protection))

    assert cli.main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == outcome


def test_validate_rejects_unconfirmed_prod_weakening(capsys, tmp_path):
    spec = make_spec("prod")
    spec["protection"] = {"final_snapshot": False}
    path = write_spec(tmp_path / "prod.yaml", spec)

    code = cli.main(["validate", str(path)])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert "protection.final_snapshot: false is weaker than the prod profile's true" in captured.err


@pytest.fixture(scope="module")
def terraform_ready(tmp_path_factory):
    """Provide the environment for terraform validate, or skip when Terraform is missing."""
    try:
        find_terraform()
    except TerraformNotFoundError as error:
        pytest.skip(str(error))
    config = mirror_cli_config(tmp_path_factory.mktemp("provider"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TF_CLI_CONFIG_FILE", str(config))
        patch.setenv("CHECKPOINT_DISABLE", "1")
        yield


@pytest.mark.usefixtures("terraform_ready")
@pytest.mark.parametrize(
    ("environment", "protection"),
    [
        ("test", None),
        ("dev", None),
        ("staging", None),
        ("prod", None),
        ("test", {"final_snapshot": True, "prevent_destroy": True, "deletion_protection": True}),
        ("prod", {"final_snapshot": False, "prevent_destroy": False, "deletion_protection": False,
                  "allow_weaker_prod_protection": True}),
    ],
    ids=["test", "dev", "staging", "prod", "test-protected", "prod-unprotected"],
)
def test_terraform_validate_passes(tmp_path, environment, protection):
    project = generate(make_spec(environment, protection=protection), tmp_path, validate=True)

    assert (project / "rds.tf").is_file()
