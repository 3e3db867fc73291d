"""Derived resource names stay within AWS's rules for every service name and suffix the schema allows."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfscaffold.naming import derive_names, name_problems
from tfscaffold.validation import apply_defaults

# The same rules as in test_rendered.py, from the ELBv2, IAM, RDS and EC2 API references.
ELB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
IAM_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
RDS_IDENTIFIER = re.compile(r"^[a-z](?:-?[a-z0-9]){0,62}$")

# Patterns and lengths of service.name and service.environment_suffix in the schema.
service_names = st.from_regex(r"[a-z][a-z0-9]{0,9}(-[a-z0-9]{1,9}){0,4}", fullmatch=True).filter(
    lambda name: 2 <= len(name) <= 40
)
suffixes = st.from_regex(r"[a-z0-9]{1,6}(-[a-z0-9]{1,5}){0,2}", fullmatch=True).filter(lambda suffix: len(suffix) <= 12)


def make_spec(service: str, suffix: str, port: int = 8080) -> dict:
    return apply_defaults(
        {
            "spec_version": 1,
            "service": {"name": service, "environment": "test", "environment_suffix": suffix, "region": "eu-west-1"},
            "container": {"image": "nginx", "port": port},
        }
    )


@settings(max_examples=300, deadline=None)
@given(service=service_names, suffix=suffixes, port=st.integers(min_value=1, max_value=65535))
def test_names_fit_aws_rules(service, suffix, port):
    spec = make_spec(service, suffix, port)
    if name_problems(spec):
        return
    names = derive_names(spec)

    for key in ("alb", "target_group_blue", "target_group_green"):
        assert ELB_NAME.fullmatch(names[key]), names[key]
    assert not names["alb"].startswith("internal-")
    for key in ("execution_role", "task_role"):
        assert IAM_ROLE_NAME.fullmatch(names[key]), names[key]
    assert RDS_IDENTIFIER.fullmatch(names["aurora_cluster"]), names["aurora_cluster"]
    assert RDS_IDENTIFIER.fullmatch(names["final_snapshot"]), names["final_snapshot"]
    for key in ("sg_alb", "sg_tasks", "sg_db"):
        assert not names[key].startswith("sg-")
    assert names["target_group_blue"] != names["target_group_green"]
    for key, value in names.items():
        assert suffix in value, key


def test_names_deterministic():
    first = derive_names(make_spec("payment-processing-gateway", "staging-eu1"))
    second = derive_names(make_spec("payment-processing-gateway", "staging-eu1"))

    assert first == second


@pytest.mark.parametrize(
    ("service", "prefix"),
    [("internal-api", "'internal-'"), ("internal", "'internal-'"), ("sg-payments", "'sg-'")],
)
def test_names_reserved_prefix(service, prefix):
    problems = name_problems(make_spec(service, "test"))

    assert len(problems) == 1
    assert problems[0][0] == ("service", "name")
    assert f"starts with {prefix}" in problems[0][1]


def test_names_reserved_prefix_elsewhere():
    assert name_problems(make_spec("api-internal", "test")) == []
