"""Structural checks of the Terraform rendered for every spec variant in conftest.VARIANTS."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import VARIANTS, Expression, RenderedProject, Template
from tfscaffold import terraform
from tfscaffold.validation import validate_file

COLOURS = ("blue", "green")

# Name rules from the AWS API references:
# - ELBv2 CreateLoadBalancer and CreateTargetGroup: at most 32 letters, digits
#   and hyphens, no hyphen at either end. A load balancer name must also not
#   start with "internal-".
# - IAM CreateRole: 1 to 64 characters of [\w+=,.@-].
# - RDS CreateDBCluster: 1 to 63 letters, digits and hyphens, a letter first,
#   no trailing hyphen and no two hyphens in a row.
ELB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
IAM_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
RDS_IDENTIFIER = re.compile(r"^[a-z](?:-?[a-z0-9])*$")
RDS_IDENTIFIER_MAX = 63

# Arguments that name a resource in the account, so they must carry the suffix.
NAME_ARGUMENTS = ("name", "name_prefix", "identifier", "family", "cluster_identifier")
# An inline policy name is unique only within its role, so it needs no suffix.
ROLE_SCOPED_NAMES = {"aws_iam_role_policy"}
# Naming arguments that hold something else: a parameter group's family is an engine family.
NOT_NAMES = {("aws_rds_cluster_parameter_group", "family")}

LEFTOVER_TEMPLATE_SYNTAX = ("{{", "{%", "cookiecutter.")
UNSTABLE_FUNCTIONS = ("timestamp(", "uuid(")


def single(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    assert len(resources) == 1, sorted(resources)
    return next(iter(resources.values()))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def is_literal(value: Any) -> bool:
    """Tell whether a parsed value is a string with no expression or interpolation in it."""
    return isinstance(value, str) and not isinstance(value, (Expression, Template))


def expected_retention(project: RenderedProject) -> int:
    return project.raw("logs", "retention_days", default=30)


def expected_cpu_target(project: RenderedProject) -> float:
    return project.raw("autoscaling", "cpu_target", default=70)


def listener_ports(project: RenderedProject) -> list[int]:
    return sorted(listener["port"] for listener in project.hcl.of_type("aws_lb_listener").values())


# ECS ----------------------------------------------------------------------


def test_ecs_cluster_container_insights(project):
    cluster = single(project.hcl.of_type("aws_ecs_cluster"))

    assert {"name": "containerInsights", "value": "enabled"} in cluster["setting"]


def test_ecs_services_blue_green(project):
    services = project.hcl.of_type("aws_ecs_service")

    assert sorted(services) == list(COLOURS)
    for colour, service in services.items():
        assert service["launch_type"] == "FARGATE"
        assert service["cluster"] == "${aws_ecs_cluster.this.id}"
        assert len(service["load_balancer"]) == 1
        assert service["load_balancer"][0]["target_group_arn"] == f"${{aws_lb_target_group.{colour}.arn}}"
        assert service["load_balancer"][0]["container_port"] == project.spec["container"]["port"]


def test_ecs_task_cpu_memory(project):
    definitions = project.hcl.of_type("aws_ecs_task_definition")

    assert sorted(definitions) == list(COLOURS)
    for definition in definitions.values():
        assert definition["requires_compatibilities"] == ["FARGATE"]
        assert definition["cpu"] == project.spec["container"]["cpu"]
        assert definition["memory"] == project.spec["container"]["memory"]


def test_ecs_codedeploy_ignores_changes(project):
    # NOTE: the schema has no deployment controller option yet, so every variant
    # renders the ECS controller and the checks below only guard a future one.
    listener_ignores = [
        listener.get("lifecycle", [{}])[0].get("ignore_changes", [])
        for listener in project.hcl.of_type("aws_lb_listener").values()
        if listener["default_action"][0]["type"] == "forward"
    ]
    for service in project.hcl.of_type("aws_ecs_service").values():
        controller = service.get("deployment_controller", [{"type": "ECS"}])[0]["type"]
        if controller != "CODE_DEPLOY":
            continue
        ignored = service.get("lifecycle", [{}])[0].get("ignore_changes", [])
        assert "task_definition" in ignored
        assert "load_balancer" in ignored
        assert all("default_action" in ignores for ignores in listener_ignores)


# Aurora -------------------------------------------------------------------


def test_aurora_cluster_encrypted(project):
    cluster = single(project.hcl.of_type("aws_rds_cluster"))

    assert cluster["engine"] == "aurora-postgresql"
    assert cluster["engine_version"] == project.spec["database"]["engine_version"]
    assert cluster["storage_encrypted"] is True
    assert re.fullmatch(r"\$\{aws_kms_key\.\w+\.arn\}", cluster["kms_key_id"])
    assert "availability_zones" not in cluster


def test_aurora_instances_follow_cluster(project):
    instance = single(project.hcl.of_type("aws_rds_cluster_instance"))

    assert instance["count"] >= 2
    assert instance["count"] == project.spec["database"]["instances"]
    assert instance["cluster_identifier"] == "${aws_rds_cluster.this.id}"
    assert instance["engine"] == "${aws_rds_cluster.this.engine}"
    assert instance["engine_version"] == "${aws_rds_cluster.this.engine_version}"
    assert instance["publicly_accessible"] is False


def test_aurora_instances_distinct_zones(project):
    instance = single(project.hcl.of_type("aws_rds_cluster_instance"))
    zone_count = project.spec["network"]["zone_count"]

    # Each instance takes the next zone of local.azs in turn. The checks below
    # evaluate that placement for the spec's instance and zone counts.
    assert project.hcl.locals["azs"] == f"${{slice(data.aws_availability_zones.available.names, 0, {zone_count})}}"
    assert instance["availability_zone"] == "${local.azs[count.index % length(local.azs)]}"
    zones = [f"zone-{index % zone_count}" for index in range(instance["count"])]
    assert zone_count >= 2
    assert len(set(zones)) == min(instance["count"], zone_count)
    assert len(set(zones[:zone_count])) == len(zones[:zone_count])


def test_aurora_engine_version_text():
    # full.yaml writes 15.10 without quotes, which YAML 1.1 reads as 15.1.
    assert validate_file(VARIANTS["full"])["database"]["engine_version"] == "15.10"


# Load balancer ------------------------------------------------------------


def test_alb_target_groups(project):
    balancer = single(project.hcl.of_type("aws_lb"))
    groups = project.hcl.of_type("aws_lb_target_group")

    assert balancer["load_balancer_type"] == "application"
    assert balancer["internal"] is project.spec["load_balancer"]["internal"]
    assert sorted(groups) == list(COLOURS)
    for group in groups.values():
        assert group["port"] == project.spec["container"]["port"]
        assert group["target_type"] == "ip"
        assert group["health_check"][0]["path"] == project.spec["container"]["health_check_path"]


def test_listener_forwards_both_colours(project):
    forwarding = [
        listener
        for listener in project.hcl.of_type("aws_lb_listener").values()
        if listener["default_action"][0]["type"] == "forward"
    ]

    assert len(forwarding) == 1
    action = forwarding[0]["default_action"][0]
    assert set(action) == {"type", "forward"}
    groups = action["forward"][0]["target_group"]
    assert [group["arn"] for group in groups] == [f"${{aws_lb_target_group.{colour}.arn}}" for colour in COLOURS]
    assert [group["weight"] for group in groups] == [f"${{var.{colour}_weight}}" for colour in COLOURS]


def test_listener_weight_defaults(project):
    weights = project.spec["blue_green"]["weights"]

    for colour in COLOURS:
        assert project.hcl.variables[f"{colour}_weight"]["default"] == weights[colour]
    assert weights["blue"] + weights["green"] == 100


def test_listener_https_when_certificate(project):
    listeners = project.hcl.of_type("aws_lb_listener")
    certificate = project.spec["load_balancer"].get("certificate_arn")

    if certificate is None:
        assert sorted(listeners) == ["http"]
        assert listeners["http"]["port"] == 80
    else:
        assert sorted(listeners) == ["http", "https"]
        assert listeners["https"]["port"] == 443
        assert listeners["https"]["certificate_arn"] == certificate
        redirect = listeners["http"]["default_action"][0]
        assert redirect["type"] == "redirect"
        assert redirect["redirect"][0]["protocol"] == "HTTPS"


# SSM parameters -----------------------------------------------------------


def test_ssm_parameters_secure(project):
    parameters = project.hcl.of_type("aws_ssm_parameter")

    assert parameters
    for parameter in parameters.values():
        assert parameter["type"] == "SecureString"
        assert re.fullmatch(r"\$\{aws_kms_key\.\w+\.arn\}", parameter["key_id"])


def test_ssm_secrets_from_spec(project):
    secrets = project.hcl.locals["secrets"]

    assert list(secrets) == [secret["name"] for secret in project.spec["secrets"]]
    for secret in project.spec["secrets"]:
        assert secrets[secret["name"]]["variable"] == secret["name"].upper().replace("-", "_")
        assert secrets[secret["name"]]["description"] == secret.get("description", "")
    assert project.hcl.of_type("aws_ssm_parameter")["secret"]["for_each"] == "${local.secrets}"


def test_task_secrets_reference_parameters(project):
    container_secrets = project.hcl.locals["container_secrets"]

    for name in project.hcl.of_type("aws_ssm_parameter"):
        assert f"aws_ssm_parameter.{name}" in container_secrets
    for definition in project.hcl.of_type("aws_ecs_task_definition").values():
        assert "secrets = local.container_secrets" in definition["container_definitions"]


# CloudWatch ---------------------------------------------------------------


def test_log_groups_retention(project):
    groups = project.hcl.of_type("aws_cloudwatch_log_group")

    assert groups
    for group in groups.values():
        assert group["retention_in_days"] == expected_retention(project)
        assert group["retention_in_days"] == project.spec["logs"]["retention_days"]


def test_log_groups_encrypted(project):
    for group in project.hcl.of_type("aws_cloudwatch_log_group").values():
        assert group.get("kms_key_id") == "${aws_kms_key.this.arn}"


def test_log_group_names_owned(project):
    names = {group["name"] for group in project.hcl.of_type("aws_cloudwatch_log_group").values()}
    cluster = single(project.hcl.of_type("aws_ecs_cluster"))["name"]
    aurora = single(project.hcl.of_type("aws_rds_cluster"))["cluster_identifier"]

    # AWS creates these two on first write, without retention or key, unless they exist.
    assert f"/aws/ecs/containerinsights/{cluster}/performance" in names
    assert f"/aws/rds/cluster/{aurora}/postgresql" in names


# Autoscaling --------------------------------------------------------------


def test_autoscaling_targets_per_service(project):
    targets = project.hcl.of_type("aws_appautoscaling_target")
    scaling = project.spec["autoscaling"]

    assert sorted(targets) == sorted(project.hcl.of_type("aws_ecs_service"))
    for colour, target in targets.items():
        assert target["resource_id"] == f"service/${{aws_ecs_cluster.this.name}}/${{aws_ecs_service.{colour}.name}}"
        assert ".id}" not in target["resource_id"]
        assert ".arn}" not in target["resource_id"]
        assert target["scalable_dimension"] == "ecs:service:DesiredCount"
        assert target["service_namespace"] == "ecs"
        assert target["min_capacity"] == scaling["min_capacity"]
        assert target["max_capacity"] == scaling["max_capacity"]


def test_autoscaling_cpu_policies(project):
    policies = project.hcl.of_type("aws_appautoscaling_policy")

    assert sorted(policies) == [f"{colour}_cpu" for colour in COLOURS]
    for colour in COLOURS:
        policy = policies[f"{colour}_cpu"]
        configuration = policy["target_tracking_scaling_policy_configuration"][0]
        metric = configuration["predefined_metric_specification"][0]
        assert policy["policy_type"] == "TargetTrackingScaling"
        assert policy["resource_id"] == f"${{aws_appautoscaling_target.{colour}.resource_id}}"
        assert metric["predefined_metric_type"] == "ECSServiceAverageCPUUtilization"
        assert configuration["target_value"] == expected_cpu_target(project)


def test_ecs_services_ignore_desired_count(project):
    for service in project.hcl.of_type("aws_ecs_service").values():
        assert "desired_count" in service["lifecycle"][0]["ignore_changes"]


# Security groups ----------------------------------------------------------


def security_group_rules(project: RenderedProject) -> list[dict[str, Any]]:
    return list(project.hcl.of_type("aws_security_group_rule").values())


def group_of(reference: str) -> str:
    match = re.fullmatch(r"\$\{aws_security_group\.(\w+)\.id\}", reference)
    assert match, reference
    return match.group(1)


def rule_groups(rule: dict[str, Any]) -> set[str | None]:
    """Return the rule's own group and its peer group, None for a CIDR peer."""
    source = rule.get("source_security_group_id")
    return {group_of(rule["security_group_id"]), None if source is None else group_of(source)}


def test_security_groups_no_inline_rules(project):
    groups = {**project.hcl.of_type("aws_security_group"), **project.hcl.of_type("aws_default_security_group")}

    assert sorted(project.hcl.of_type("aws_security_group")) == ["alb", "db", "tasks"]
    for group in groups.values():
        assert "ingress" not in group
        assert "egress" not in group


def test_security_rules_single_port(project):
    for rule in security_group_rules(project):
        assert rule["protocol"] == "tcp"
        assert rule["from_port"] == rule["to_port"]


def test_security_alb_ingress_listener_ports(project):
    ingress = [
        rule
        for rule in security_group_rules(project)
        if rule["type"] == "ingress" and group_of(rule["security_group_id"]) == "alb"
    ]

    assert sorted(rule["from_port"] for rule in ingress) == listener_ports(project)
    for rule in ingress:
        assert rule["cidr_blocks"] == project.spec["load_balancer"]["ingress_cidrs"]
        assert "source_security_group_id" not in rule


def test_security_alb_to_tasks_container_port(project):
    port = project.spec["container"]["port"]
    between = [rule for rule in security_group_rules(project) if rule_groups(rule) == {"alb", "tasks"}]

    assert sorted((group_of(rule["security_group_id"]), rule["type"]) for rule in between) == [
        ("alb", "egress"),
        ("tasks", "ingress"),
    ]
    for rule in between:
        assert rule["from_port"] == port


def test_security_tasks_to_db_postgres(project):
    rules = security_group_rules(project)
    touching_db = [rule for rule in rules if "db" in rule_groups(rule)]

    assert sorted((group_of(rule["security_group_id"]), rule["type"]) for rule in touching_db) == [
        ("db", "ingress"),
        ("tasks", "egress"),
    ]
    for rule in touching_db:
        assert rule["from_port"] == 5432
        assert "cidr_blocks" not in rule


def test_security_tasks_ingress_only_alb(project):
    ingress = [
        rule
        for rule in security_group_rules(project)
        if rule["type"] == "ingress" and group_of(rule["security_group_id"]) == "tasks"
    ]

    assert len(ingress) == 1
    assert ingress[0]["source_security_group_id"] == "${aws_security_group.alb.id}"
    assert ingress[0]["from_port"] == project.spec["container"]["port"]


# IAM and KMS --------------------------------------------------------------


def execution_statements(project: RenderedProject) -> list[dict[str, Any]]:
    return project.hcl.data["aws_iam_policy_document"]["execution"]["statement"]


def test_execution_policy_no_wildcard_action(project):
    for statement in execution_statements(project):
        for action in statement["actions"]:
            assert action != "*"
            assert not action.endswith(":*")


def test_execution_policy_scoped_resources(project):
    for statement in execution_statements(project):
        if statement["actions"] == ["ecr:GetAuthorizationToken"]:
            continue
        for resource in as_list(statement["resources"]):
            assert resource != "*"
            assert "*" not in resource.removesuffix(":*")


def test_execution_policy_ecr_pull(project):
    ecr = [statement for statement in execution_statements(project) if statement["actions"][0].startswith("ecr:")]
    image = project.spec["container"]["image"]
    match = re.match(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^:@]+)", image)

    if match is None:
        assert ecr == []
    else:
        account, region, repository = match.groups()
        pull = [statement for statement in ecr if statement["actions"] != ["ecr:GetAuthorizationToken"]]
        assert len(pull) == 1
        assert pull[0]["resources"] == [f"arn:${{local.partition}}:ecr:{region}:{account}:repository/{repository}"]


def test_execution_role_policy_attached(project):
    policy = project.hcl.of_type("aws_iam_role_policy")["execution"]

    assert policy["role"] == "${aws_iam_role.execution.id}"
    assert policy["policy"] == "${data.aws_iam_policy_document.execution.json}"


def test_kms_policy_grants_logs(project):
    key = project.hcl.of_type("aws_kms_key")["this"]
    statements = project.hcl.data["aws_iam_policy_document"]["kms"]["statement"]
    logs = [
        statement
        for statement in statements
        if any("logs." in identifier for principal in statement.get("principals", []) for identifier in principal["identifiers"])
    ]

    assert key["policy"] == "${data.aws_iam_policy_document.kms.json}"
    assert project.hcl.variables["region"]["default"] == project.spec["service"]["region"]
    assert len(logs) == 1
    assert logs[0]["principals"] == [{"type": "Service", "identifiers": ["logs.${var.region}.amazonaws.com"]}]
    assert "kms:GenerateDataKey*" in logs[0]["actions"]
    assert "kms:Decrypt*" in logs[0]["actions"]


def test_kms_policy_encryption_context(project):
    statements = project.hcl.data["aws_iam_policy_document"]["kms"]["statement"]
    logs = [statement for statement in statements if statement.get("sid") == "CloudWatchLogsEncrypts"]

    assert len(logs) == 1
    condition = logs[0]["condition"]
    assert len(condition) == 1
    assert condition[0]["test"] in ("ArnLike", "ArnEquals")
    assert condition[0]["variable"] == "kms:EncryptionContext:aws:logs:arn"
    assert condition[0]["values"] == ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]


# Names --------------------------------------------------------------------


def literal_names(project: RenderedProject) -> list[tuple[str, str, str, str]]:
    """List (type, name, argument, value) of every literal naming argument of a resource."""
    found = []
    for resource_type, resources in project.hcl.resources.items():
        for name, body in resources.items():
            for argument in NAME_ARGUMENTS:
                if (resource_type, argument) in NOT_NAMES:
                    continue
                value = body.get(argument)
                if isinstance(value, str) and not isinstance(value, Expression):
                    found.append((resource_type, name, argument, value))
    return found


def test_names_carry_suffix(project):
    suffix = project.spec["service"]["environment_suffix"]
    names = [entry for entry in literal_names(project) if entry[0] not in ROLE_SCOPED_NAMES]

    assert names
    for resource_type, name, argument, value in names:
        assert suffix in value, f"{resource_type}.{name}.{argument} = {value!r}"


def test_names_unique_per_type(project):
    by_type: dict[str, list[str]] = {}
    for resource_type, _, argument, value in literal_names(project):
        if argument == "name":
            by_type.setdefault(resource_type, []).append(value)

    for resource_type, values in by_type.items():
        assert len(values) == len(set(values)), resource_type


def test_names_elb_limits(project):
    balancer = single(project.hcl.of_type("aws_lb"))
    names = [balancer["name"]] + [group["name"] for group in project.hcl.of_type("aws_lb_target_group").values()]

    for name in names:
        assert is_literal(name)
        assert len(name) <= 32, name
        assert ELB_NAME.fullmatch(name), name
    assert not balancer["name"].startswith("internal-")


def test_names_iam_role_limits(project):
    roles = project.hcl.of_type("aws_iam_role")

    assert {"execution", "task"} <= set(roles)
    for role in roles.values():
        assert is_literal(role["name"])
        assert len(role["name"]) <= 64, role["name"]
        assert IAM_ROLE_NAME.fullmatch(role["name"]), role["name"]


def test_names_aurora_identifiers(project):
    cluster = single(project.hcl.of_type("aws_rds_cluster"))
    instance = single(project.hcl.of_type("aws_rds_cluster_instance"))
    longest_instance = instance["identifier"].replace("${count.index + 1}", str(instance["count"]))

    assert isinstance(instance["identifier"], Template)
    for identifier in (cluster["cluster_identifier"], longest_instance):
        assert len(identifier) <= RDS_IDENTIFIER_MAX, identifier
        assert RDS_IDENTIFIER.fullmatch(identifier), identifier


def test_names_long_service_shortened(render_variant):
    project = render_variant("long-names")
    groups = project.hcl.of_type("aws_lb_target_group")

    assert groups["blue"]["name"] != groups["green"]["name"]
    for colour in COLOURS:
        assert len(groups[colour]["name"]) == 32
        assert groups[colour]["name"].endswith(f"-staging-eu1-{colour}-" + groups[colour]["name"][-4:])


# Environment profiles -----------------------------------------------------


def test_environment_protection(project):
    cluster = single(project.hcl.of_type("aws_rds_cluster"))
    balancer = single(project.hcl.of_type("aws_lb"))
    service = project.spec["service"]

    if service["environment"] in ("test", "dev"):
        assert cluster["skip_final_snapshot"] is True
        assert cluster["deletion_protection"] is False
        assert balancer["enable_deletion_protection"] is False
        assert "final_snapshot_identifier" not in cluster
    else:
        assert cluster["skip_final_snapshot"] is False
        assert cluster["deletion_protection"] is True
        assert balancer["enable_deletion_protection"] is True
        assert is_literal(cluster["final_snapshot_identifier"])
        assert f"{service['name']}-{service['environment_suffix']}" in cluster["final_snapshot_identifier"]
        assert RDS_IDENTIFIER.fullmatch(cluster["final_snapshot_identifier"])


def test_environment_variants_cover_profiles():
    environments = {validate_file(path)["service"]["environment"] for path in VARIANTS.values()}

    assert environments == {"test", "dev", "staging", "prod"}


# Whole files --------------------------------------------------------------


def test_no_unstable_functions(project):
    for relative, content in project.files().items():
        text = content.decode("utf-8")
        for function in UNSTABLE_FUNCTIONS:
            assert function not in text, f"{relative} calls {function}"


def test_no_template_syntax_left(project):
    files = project.files()

    assert "README.md" in files
    assert ".tfscaffold/spec.yaml" in files
    for relative, content in files.items():
        text = content.decode("utf-8")
        for marker in LEFTOVER_TEMPLATE_SYNTAX:
            assert marker not in text, f"{relative} contains {marker!r}"


def test_readme_secret_commands(project):
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    service = project.spec["service"]

    assert "```sh\n```" not in readme
    for secret in project.spec["secrets"]:
        assert f"--name /{service['name']}/{service['environment_suffix']}/{secret['name']} " in readme
    if not project.spec["secrets"]:
        assert "put-parameter" not in readme


def test_readme_switches_to_idle(project):
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    live = project.spec["blue_green"]["live"]
    idle = "green" if live == "blue" else "blue"

    assert f"-var {idle}_image=REGISTRY/IMAGE:TAG -var {live}_weight=0 -var {idle}_weight=100" in readme


def test_tags_round_trip(project):
    tags = project.hcl.locals["tags"]

    assert tags["Service"] == project.spec["service"]["name"]
    assert tags["Environment"] == project.spec["service"]["environment"]
    for key, value in project.spec["tags"].items():
        assert tags[key] == value


def test_terraform_fmt_clean(project, terraform_command):
    assert terraform.fmt(terraform_command, project.path, check=True) == []


@pytest.mark.usefixtures("mirror_config")
def test_terraform_validate(project, terraform_command):
    terraform.validate(terraform_command, project.path)
