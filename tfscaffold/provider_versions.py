"""Parse the spec's AWS provider version constraint and derive what it selects in the templates.

Terraform reads provider version constraints with the Ruby-style parser of
github.com/apparentlymart/go-versions (versions/constraints/ruby_style.go):
comma-separated conditions, each an optional operator (=, !=, >, >=, <, <=, ~>)
and a version of one to three numbers, where a missing number counts as 0.
`~> X.Y.Z` admits versions below X.(Y+1).0, and `~> X` or `~> X.Y` admits
versions below (X+1).0.0. The spec schema already rejects other syntax,
including pre-release suffixes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Version = tuple[int, int, int]

# The templates are checked against provider 3.39.0 with `terraform validate`
# and against the 6.62.0 schema, so a constraint must stay inside this range.
OLDEST_SUPPORTED: Version = (3, 39, 0)
FIRST_UNSUPPORTED: Version = (7, 0, 0)

# Provider 5.0.0 deprecated aws_eip's `vpc` in favour of `domain` (its
# CHANGELOG) and 6.0.0 removed `vpc` (its Version 6 Upgrade Guide). In 3.39.0
# `domain` is read-only.
EIP_DOMAIN_FROM: Version = (5, 0, 0)

_CONDITION = re.compile(r"^(?P<operator>!=|>=|<=|~>|=|>|<)? ?(?P<version>[0-9]+(?:\.[0-9]+){0,2})$")


@dataclass(frozen=True)
class VersionRange:
    """The versions from lower (inclusive) to upper (exclusive, None for no bound), minus excluded ones."""

    lower: Version = (0, 0, 0)
    upper: Version | None = None
    excluded: frozenset[Version] = frozenset()

    def within(self, lower: Version, upper: Version | None) -> VersionRange:
        """Return the part of this range from lower up to, but not including, upper."""
        return VersionRange(max(self.lower, lower), _min_upper(self.upper, upper), self.excluded)

    def admits(self, version: Version) -> bool:
        """Tell whether version is in the range."""
        return not self.within(version, _next_patch(version)).is_empty()

    def is_empty(self) -> bool:
        """Tell whether no version is in the range."""
        if self.upper is None:
            return False
        if self.upper <= self.lower:
            return True
        if self.upper[:2] != self.lower[:2]:
            # Then every patch release of lower's minor version is in range.
            return False
        patches = range(self.lower[2], self.upper[2])
        return all((self.lower[0], self.lower[1], patch) in self.excluded for patch in patches)


def parse_constraint(text: str) -> VersionRange:
    """Return the versions a constraint admits; raise ValueError on invalid syntax."""
    result = VersionRange()
    for condition in text.split(","):
        match = _CONDITION.match(condition.strip())
        if match is None:
            raise ValueError(f"invalid condition {condition.strip()!r}")
        result = _apply(result, match["operator"] or "=", match["version"])
    return result


def _apply(current: VersionRange, operator: str, text: str) -> VersionRange:
    numbers = [int(part) for part in text.split(".")]
    version = _version(numbers)
    if operator == "!=":
        return VersionRange(current.lower, current.upper, current.excluded | {version})
    if operator == "~>":
        return current.within(version, _pessimistic_upper(numbers))
    bounds = {
        "=": (version, _next_patch(version)),
        ">": (_next_patch(version), None),
        ">=": (version, None),
        "<": ((0, 0, 0), version),
        "<=": ((0, 0, 0), _next_patch(version)),
    }
    return current.within(*bounds[operator])


def _version(numbers: list[int]) -> Version:
    padded = numbers + [0] * (3 - len(numbers))
    return (padded[0], padded[1], padded[2])


def _next_patch(version: Version) -> Version:
    return (version[0], version[1], version[2] + 1)


def _pessimistic_upper(numbers: list[int]) -> Version:
    if len(numbers) == 3:
        return (numbers[0], numbers[1] + 1, 0)
    return (numbers[0] + 1, 0, 0)


def _min_upper(first: Version | None, second: Version | None) -> Version | None:
    if first is None:
        return second
    if second is None:
        return first
    return min(first, second)


def format_version(version: Version) -> str:
    """Return a version as text, such as "3.39.0"."""
    return ".".join(str(number) for number in version)


def constraint_problems(text: str) -> list[str]:
    """List why a constraint is unusable: invalid, admitting nothing, or leaving the supported range."""
    try:
        admitted = parse_constraint(text)
    except ValueError as error:
        return [f"{error}; expected conditions such as \">= 3.39.0, < 7.0.0\""]
    oldest, first_unsupported = format_version(OLDEST_SUPPORTED), format_version(FIRST_UNSUPPORTED)
    if admitted.is_empty():
        return [f"{text!r} admits no provider version; use a range such as \">= {oldest}, < {first_unsupported}\""]
    problems = []
    if not admitted.within((0, 0, 0), OLDEST_SUPPORTED).is_empty():
        problems.append(
            f"{text!r} admits AWS provider versions before {oldest}, the oldest the templates are "
            f"checked against; add \">= {oldest}\""
        )
    if not admitted.within(FIRST_UNSUPPORTED, None).is_empty():
        problems.append(
            f"{text!r} admits AWS provider {first_unsupported} and later, which the templates are "
            f"not checked against; add \"< {first_unsupported}\""
        )
    return problems


def provider_model(text: str) -> dict[str, Any]:
    """Return the template values for a valid constraint: the constraint and the forms it selects."""
    admitted = parse_constraint(text)
    return {
        "version": text,
        # True when every admitted version takes aws_eip's `domain` argument.
        "eip_domain": admitted.within((0, 0, 0), EIP_DOMAIN_FROM).is_empty(),
    }
