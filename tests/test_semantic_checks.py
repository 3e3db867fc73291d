"""Specs that the schema accepts but AWS or PostgreSQL would reject at apply time."""

from __future__ import annotations

import pytest

from tfscaffold.errors import SpecError
from tfscaffold.spec import load_spec_text
from tfscaffold.validation import validate_loaded

BASE = """\
spec_version: 2
service: {name: pay, environment: prod, environment_suffix: prod, region: eu-west-1}
container: {image: nginx}
"""

CASES = [
    pytest.param(
        "secrets:\n  - name: db-password\n",
        'spec.yaml:5:11: secrets[0].name: invalid value "db-password": the templates already set the variable '
        "DB_PASSWORD; choose another name",
        id="secret-reserved-variable",
    ),
    pytest.param(
        "secrets:\n  - name: db-master-password\n",
        'spec.yaml:5:11: secrets[0].name: invalid value "db-master-password": the templates already create the '
        "parameter db-master-password; choose another name",
        id="secret-reserved-parameter",
    ),
    pytest.param(
        "database: {name: postgres}\n",
        'spec.yaml:4:18: database.name: invalid value "postgres": PostgreSQL reserves this name; choose another, '
        "for example app",
        id="database-name-reserved",
    ),
    pytest.param(
        "database: {name: SELECT}\n",
        'spec.yaml:4:18: database.name: invalid value "SELECT": PostgreSQL reserves this name; choose another, '
        "for example app",
        id="database-name-keyword",
    ),
    pytest.param(
        'load_balancer: {certificate_arn: "arn:aws:acm:us-east-1:123456789012:certificate/abc"}\n',
        "spec.yaml:4:34: load_balancer.certificate_arn: the certificate is in us-east-1, but the load balancer is "
        "in eu-west-1; an ALB can only use an ACM certificate of its own region",
        id="certificate-other-region",
    ),
    pytest.param(
        "autoscaling: {cpu_target: .nan}\n",
        "spec.yaml:4:27: autoscaling.cpu_target: invalid value nan; expected a finite number",
        id="cpu-target-nan",
    ),
    pytest.param(
        "autoscaling: {cpu_target: 0.00001}\n",
        "spec.yaml:4:27: autoscaling.cpu_target: invalid value 0.00001 (YAML reads it as 1e-05); expected a number "
        "from 1 to 100",
        id="cpu-target-tiny",
    ),
    pytest.param(
        "network: {vpc_cidr: 10.0.0.0/24}\n",
        'spec.yaml:4:21: network.vpc_cidr: invalid value "10.0.0.0/24"; expected an IPv4 CIDR block from /16 to '
        "/23, such as 10.0.0.0/16",
        id="vpc-too-small-for-alb-subnets",
    ),
    pytest.param(
        "tags: {environment: x}\n",
        'spec.yaml:4:21: tags.environment: tag "environment" is set by tfscaffold as Environment; remove it',
        id="tag-overrides-builtin",
    ),
    pytest.param(
        'tags: {"AWS:team": x}\n',
        'spec.yaml:4:8: tags["AWS:team"]: invalid key "AWS:team"; expected 1 to 128 ASCII letters, digits, '
        "spaces and _ . : / = + @ -, not starting with aws: in any letter case",
        id="tag-aws-prefix-upper-case",
    ),
]


@pytest.mark.parametrize(("addition", "expected"), CASES)
def test_apply_time_rejection(addition, expected):
    with pytest.raises(SpecError) as caught:
        validate_loaded(load_spec_text(BASE + addition, "spec.yaml"))

    assert caught.value.problems == [expected]


@pytest.mark.parametrize("name", ["aws-gateway", "ssm-sync", "AWSish"])
def test_service_name_ssm_prefix(name):
    text = BASE.replace("name: pay", f"name: {name.lower()}")

    with pytest.raises(SpecError) as caught:
        validate_loaded(load_spec_text(text, "spec.yaml"))

    assert len(caught.value.problems) == 1
    assert "SSM rejects parameter names under" in caught.value.problems[0]
