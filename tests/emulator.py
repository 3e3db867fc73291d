"""Run rendered projects against moto in server mode on 127.0.0.1, and nowhere else.

`MotoServer` starts and stops the emulator by PID. `Tripwire` is the HTTP(S)
proxy that Terraform gets for every host except loopback. It responds with 403
and records the target, so a request that would leave the machine fails and
shows up in the test. `inventory` lists what the emulator contains, so a test can
compare it before apply and after destroy.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"  # moto's default account
ACCESS_KEY = "testing"
SECRET_KEY = "testing"
START_TIMEOUT_SECONDS = 60

# Endpoint keys of the AWS provider 3.39.0, which the mirror ships. That
# version has no `elbv2` key: `elb` also serves application load balancers.
PROVIDER_ENDPOINTS = (
    "applicationautoscaling",
    "cloudwatch",
    "cloudwatchlogs",
    "ec2",
    "ecs",
    "elb",
    "iam",
    "kms",
    "rds",
    "ssm",
    "sts",
)

OVERRIDE_FILE = "emulator_override.tf"

OVERRIDE_TEMPLATE = """\
# Added by the apply and destroy tests: sends every AWS call of this project to
# the moto server on {endpoint}, with fake credentials and no metadata lookups.

terraform {{
  required_providers {{
    aws = {{
      source  = "hashicorp/aws"
      version = "3.39.0"
    }}
  }}
}}

provider "aws" {{
  access_key                  = "{access_key}"
  secret_key                  = "{secret_key}"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  skip_get_ec2_platforms      = true
  skip_region_validation      = true

  # A request the tripwire proxy blocks fails after a few seconds instead of
  # being retried for many minutes with the default of 25 retries.
  max_retries = 3

  endpoints {{
{endpoints}
  }}
}}
"""


def run_in_own_group(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run argv and return its result; on timeout, end its whole process group and raise TimeoutExpired.

    Terraform starts the provider as a child process, which would outlive a
    Terraform process killed on its own.
    """
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, errors="replace", start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
        raise
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def isolated_aws_env(config_dir: Path) -> dict[str, str]:
    """Return os.environ without AWS settings, plus fake credentials and empty AWS config files.

    No profile, token or credentials file of the machine can reach the SDKs,
    and neither SDK queries the instance metadata service.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    config_dir.mkdir(parents=True, exist_ok=True)
    for name in ("config", "credentials"):
        (config_dir / name).write_text("", encoding="utf-8")
    env.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_CONFIG_FILE=str(config_dir / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(config_dir / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


class MotoServer:
    """A moto server on a free port of 127.0.0.1, started and stopped by this process."""

    def __init__(self, log_path: Path, env: dict[str, str]) -> None:
        self.log_path = log_path
        self.env = {**env, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, attempts: int = 3) -> None:
        """Start the server and wait until it responds; raise RuntimeError with its log when it does not.

        Another process can take the free port before moto binds it, so a
        server that exits at once is started again on a new port.
        """
        for attempt in range(1, attempts + 1):
            self.port = free_port()
            command = [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)]
            with self.log_path.open("wb") as output:
                self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=self.env)
            log.info("started moto server, PID %d, on %s", self.process.pid, self.endpoint)
            if self._wait_until_ready():
                return
            self.stop()
            log.warning("moto server on %s failed to start, attempt %d of %d", self.endpoint, attempt, attempts)
        raise RuntimeError(f"moto server on {self.endpoint} did not start:\n{self.log_path.read_text()}")

    def _wait_until_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            if self._is_ready():
                return True
            time.sleep(0.2)
        return False

    def _is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server by its PID, killing it when it does not exit within 10 seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        log.info("stopped moto server, PID %d", self.process.pid)

    def client(self, service: str) -> Any:
        """Return a boto3 client of the service that talks to this server."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def override_file(self) -> str:
        """Return the text of the `*_override.tf` file that points a project at this server."""
        width = max(len(key) for key in PROVIDER_ENDPOINTS)
        lines = [f'    {key:<{width}} = "{self.endpoint}"' for key in PROVIDER_ENDPOINTS]
        return OVERRIDE_TEMPLATE.format(
            endpoint=self.endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, endpoints="\n".join(lines)
        )


class _TripwireHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        request_line = self.rfile.readline(4096).decode("latin-1").strip()
        self.server.requests.append(request_line)  # type: ignore[attr-defined]
        self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


class Tripwire:
    """An HTTP(S) proxy on 127.0.0.1 that forwards nothing and records each request line."""

    def __init__(self) -> None:
        self.server = socketserver.ThreadingTCPServer((HOST, 0), _TripwireHandler)
        self.server.daemon_threads = True
        self.server.requests = []  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}"

    @property
    def requests(self) -> list[str]:
        return list(self.server.requests)  # type: ignore[attr-defined]

    def proxy_env(self) -> dict[str, str]:
        """Return proxy variables that send every request except to loopback to this tripwire."""
        return {
            "HTTP_PROXY": self.url,
            "HTTPS_PROXY": self.url,
            "http_proxy": self.url,
            "https_proxy": self.url,
            "NO_PROXY": f"{HOST},localhost",
            "no_proxy": f"{HOST},localhost",
        }

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _every(client: Any, operation: str, key: str, **arguments: Any) -> list[Any]:
    """Return the items under key of every page of a paginated list operation."""
    pages = client.get_paginator(operation).paginate(**arguments)
    return [item for page in pages for item in page[key]]


def inventory(server: MotoServer) -> dict[str, set[str]]:
    """List what the emulator contains, by kind, as sets of names, identifiers or ARNs.

    Records that AWS itself keeps after a deletion are left out: ECS clusters
    and task definition revisions in status INACTIVE, NAT gateways in state
    deleted, and KMS keys pending deletion (listed under their own kind).
    """
    ec2 = server.client("ec2")
    rds = server.client("rds")
    elb = server.client("elbv2")
    kms = server.client("kms")
    found: dict[str, set[str]] = {}

    found["vpc"] = {item["VpcId"] for item in ec2.describe_vpcs()["Vpcs"]}
    found["subnet"] = {item["SubnetId"] for item in ec2.describe_subnets()["Subnets"]}
    found["security_group"] = {item["GroupId"] for item in ec2.describe_security_groups()["SecurityGroups"]}
    found["route_table"] = {item["RouteTableId"] for item in ec2.describe_route_tables()["RouteTables"]}
    found["internet_gateway"] = {
        item["InternetGatewayId"] for item in ec2.describe_internet_gateways()["InternetGateways"]}
    found["nat_gateway"] = {
        item["NatGatewayId"] for item in ec2.describe_nat_gateways()["NatGateways"] if item["State"] != "deleted"}
    found["elastic_ip"] = {item["AllocationId"] for item in ec2.describe_addresses()["Addresses"]}
    found["network_interface"] = {
        item["NetworkInterfaceId"] for item in ec2.describe_network_interfaces()["NetworkInterfaces"]}

    found["db_cluster"] = {item["DBClusterIdentifier"] for item in rds.describe_db_clusters()["DBClusters"]}
    found["db_instance"] = {item["DBInstanceIdentifier"] for item in rds.describe_db_instances()["DBInstances"]}
    for kind in ("manual", "automated"):
        snapshots = rds.describe_db_cluster_snapshots(SnapshotType=kind)["DBClusterSnapshots"]
        found[f"db_cluster_snapshot_{kind}"] = {item["DBClusterSnapshotIdentifier"] for item in snapshots}
    found["db_snapshot"] = {item["DBSnapshotIdentifier"] for item in rds.describe_db_snapshots()["DBSnapshots"]}
    found["db_subnet_group"] = {
        item["DBSubnetGroupName"] for item in rds.describe_db_subnet_groups()["DBSubnetGroups"]}
    found["db_cluster_parameter_group"] = {
        item["DBClusterParameterGroupName"]
        for item in rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]}
    found["flow_log"] = {item["FlowLogId"] for item in ec2.describe_flow_logs()["FlowLogs"]}

    found.update(_ecs_inventory(server.client("ecs")))

    balancers = elb.describe_load_balancers()["LoadBalancers"]
    found["load_balancer"] = {item["LoadBalancerName"] for item in balancers}
    found["listener"] = {
        listener["ListenerArn"]
        for balancer in balancers
        for listener in elb.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    }
    found["target_group"] = {item["TargetGroupName"] for item in elb.describe_target_groups()["TargetGroups"]}

    logs = server.client("logs")
    found["log_group"] = {item["logGroupName"] for item in _every(logs, "describe_log_groups", "logGroups")}
    ssm = server.client("ssm")
    found["parameter"] = {item["Name"] for item in _every(ssm, "describe_parameters", "Parameters")}

    keys = [kms.describe_key(KeyId=item["KeyId"])["KeyMetadata"] for item in kms.list_keys()["Keys"]]
    found["kms_key"] = {key["Arn"] for key in keys if key["KeyState"] != "PendingDeletion"}
    found["kms_key_pending_deletion"] = {key["Arn"] for key in keys if key["KeyState"] == "PendingDeletion"}
    found["kms_alias"] = {item["AliasName"] for item in kms.list_aliases()["Aliases"]}

    iam = server.client("iam")
    found["iam_role"] = {item["RoleName"] for item in _every(iam, "list_roles", "Roles")}
    found["iam_policy"] = {item["PolicyName"] for item in _every(iam, "list_policies", "Policies", Scope="Local")}

    scaling = server.client("application-autoscaling")
    found["scalable_target"] = {
        item["ResourceId"] for item in scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]}
    found["scaling_policy"] = {
        item["PolicyName"] for item in scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]}
    found["alarm"] = {item["AlarmName"] for item in server.client("cloudwatch").describe_alarms()["MetricAlarms"]}
    return found


def _ecs_inventory(ecs: Any) -> dict[str, set[str]]:
    arns = _every(ecs, "list_clusters", "clusterArns")
    clusters = ecs.describe_clusters(clusters=arns)["clusters"] if arns else []
    active = [cluster["clusterArn"] for cluster in clusters if cluster["status"] == "ACTIVE"]
    services = set()
    for cluster in active:
        services.update(ecs.list_services(cluster=cluster)["serviceArns"])
    return {
        "ecs_cluster": {arn.rsplit("/", 1)[1] for arn in active},
        "ecs_service": services,
        "task_definition": set(_every(ecs, "list_task_definitions", "taskDefinitionArns", status="ACTIVE")),
    }


def added(before: dict[str, set[str]], after: dict[str, set[str]]) -> dict[str, set[str]]:
    """Return, by kind, what after contains and before did not, leaving out empty kinds."""
    result = {kind: after[kind] - before.get(kind, set()) for kind in after}
    return {kind: items for kind, items in result.items() if items}
