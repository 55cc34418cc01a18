"""A small IAM policy evaluator: moto enforces no IAM, so the local S3 front (aws_front.py) and
the security tests decide with this one.

Supports what our generated policies use: Allow/Deny statements, Action and Resource with `*`
and `?` wildcards, and the StringLike / StringEquals / ArnEquals condition operators on single
or multiple values. Explicit Deny wins, then Allow, else implicit deny (the IAM evaluation order,
docs: "Policy evaluation logic"). Anything it does not understand makes it raise, so it can never
silently allow.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

SUPPORTED_OPERATORS = {
    "StringLike",
    "StringEquals",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "StringNotEquals",
}


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _wild(pattern: str, value: str) -> bool:
    # IAM wildcards: * any run of characters, ? one character; nothing else is special.
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _condition_holds(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for operator, tests in condition.items():
        if operator not in SUPPORTED_OPERATORS:
            raise ValueError(f"condition operator {operator} not supported by this evaluator")
        negated = "Not" in operator  # IAM: a Not operator holds when the key is absent, too
        for key, expected in tests.items():
            actual = context.get(key)
            if actual is None:
                if negated:
                    continue
                return False
            like = operator.endswith("Like")
            found = any((_wild(e, actual) if like else e == actual) for e in _listed(expected))
            if found == negated:
                return False
    return True


def _matches(statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]) -> bool:
    unknown = set(statement) - {"Sid", "Effect", "Action", "Resource", "Condition"}
    if unknown:
        raise ValueError(f"statement keys {unknown} not supported by this evaluator")
    return (
        any(_wild(a.lower(), action.lower()) for a in _listed(statement["Action"]))
        and any(_wild(r, resource) for r in _listed(statement["Resource"]))
        and _condition_holds(statement.get("Condition", {}), context)
    )


def allowed(
    policy: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str] | None = None
) -> bool:
    statements = [s for s in policy["Statement"] if _matches(s, action, resource, context or {})]
    if any(s["Effect"] == "Deny" for s in statements):
        return False
    return any(s["Effect"] == "Allow" for s in statements)


def allowed_by_any(
    policies: Sequence[Mapping[str, Any]],
    action: str,
    resource: str,
    context: Mapping[str, str] | None = None,
) -> bool:
    """One principal's identity policies together: a Deny in any wins, else an Allow in any."""
    statements = [s for p in policies for s in p["Statement"]]
    return allowed({"Statement": statements}, action, resource, context)
