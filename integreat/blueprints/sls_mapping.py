"""What each part of a resolved Serverless service becomes: folders, routes, notes (serverless.py).

Values may be references: an `Intrinsic` is named by what it points to among the service's own
resources ("the service's own queue EventsQueue"), an `Unresolved` value was reported where it was
met, and a `FromEnvironment` string is never written into the manifest.
"""

from __future__ import annotations

import re
from typing import Any

from integreat.blueprints.proposal import EXCEEDS, MAPPED, ROUTE, UNMAPPED, Folder, Proposal
from integreat.blueprints.sls_intrinsics import Intrinsic, describe
from integreat.blueprints.sls_sources import SECRET_NAME, FromEnvironment
from integreat.blueprints.sls_variables import Unresolved

SEGMENT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
#: What the platform's per-app role already allows (its folder, its /service routes), by prefix.
PLATFORM_GRANTS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket",
                   "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "execute-api:Invoke")  # fmt: skip
PUBLISH_ACTIONS = ("sqs:SendMessage", "sqs:SendMessageBatch", "sns:Publish")


def statements(provider: dict[str, Any]) -> list[dict[str, Any]]:
    """IAM statements of the v3 form (provider.iam.role.statements) and the older one."""
    modern = (provider.get("iam") or {}).get("role") or {}
    found = modern.get("statements") if isinstance(modern, dict) else None
    both = (found if isinstance(found, list) else []) + _listed(provider.get("iamRoleStatements"))
    return [s for s in both if isinstance(s, dict)]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


class Mapping:
    """Adds to `proposal` what a service's parts become; `resources` are its own (id -> type)."""

    def __init__(self, proposal: Proposal, resources: dict[str, str]) -> None:
        self.proposal = proposal
        self.resources = resources

    def named(self, value: Any) -> str:
        if isinstance(value, Unresolved):
            return f"{value.text} (not resolved: see {value.key} under not mapped)"
        return describe(value, self.resources)

    def function(self, name: str, spec: dict[str, Any]) -> None:
        where = f"functions.{name}"
        self.environment(spec.get("environment") or {}, f"{where}.environment")
        for index, event in enumerate(_listed(spec.get("events"))):
            self.event(event, f"{where}.events[{index}]", name)

    def environment(self, env: Any, where: str) -> None:
        for key, value in env.items() if isinstance(env, dict) else ():
            self.proposal.note(UNMAPPED, f"{where}.{key}", _environment_message(str(key), value, self.named))

    def event(self, event: Any, where: str, function: str) -> None:
        if not isinstance(event, dict) or len(event) != 1:
            self.proposal.note(UNMAPPED, where, "not an event this importer knows")
            return
        ((kind, spec),) = event.items()
        if kind in ("http", "httpApi"):
            method, path = _route(spec)
            self.proposal.note(ROUTE, where, f"{method} {path} (function {function}): served by the app's backend;"
                               " it reaches other apps and third parties through /service/... routes and integrations")  # fmt: skip
        elif kind == "s3":
            self.s3(spec if isinstance(spec, dict) else {"bucket": spec}, where)
        elif kind in ("sqs", "sns"):
            source = spec.get("arn") or spec.get("topicName") if isinstance(spec, dict) else spec
            self.proposal.note(UNMAPPED, where, f"consumes {kind} {self.named(source)}: on the platform, subscribe in"
                               " [[apps.<slug>.events.subscribes]] (from = the producing app, types = its event types)")  # fmt: skip
        else:
            self.proposal.note(
                UNMAPPED, where, f"a {kind!r} event has no platform equivalent; the app keeps it"
            )

    def s3(self, spec: dict[str, Any], where: str) -> None:
        prefixes = [r["prefix"] for r in _listed(spec.get("rules")) if isinstance(r, dict) and "prefix" in r]
        if not prefixes:
            self.proposal.note(UNMAPPED, where, f"s3 events of the whole bucket {self.named(spec.get('bucket'))}:"
                               " declare the app's folders by hand (the platform tells the app about uploads"
                               " through its inbox)")  # fmt: skip
        for prefix in prefixes:
            path = self._folder(prefix, where)
            if path is not None:
                self.proposal.add_folder(path, Folder(write="members", read="members"), where)
                self.proposal.note(MAPPED, where, f"folder {path!r} (members write and read: review); the app hears"
                                   " of uploads through its inbox instead of an s3 event")  # fmt: skip

    def _folder(self, prefix: Any, where: str) -> str | None:
        """The folder a prefix names, or None (reported): only a value written in the service
        (or resolved from it) becomes part of the manifest."""
        if isinstance(prefix, FromEnvironment):
            problem = f"comes from the environment ({', '.join(prefix.names)}): not written into the manifest"
        elif isinstance(prefix, Intrinsic | Unresolved):
            problem = f"is {self.named(prefix)}: a folder needs a name known before deployment"
        else:
            path = str(prefix).strip("/") + "/"
            if all(SEGMENT.fullmatch(s) for s in path[:-1].split("/")):
                return path
            problem = "gives no platform folder name"
        self.proposal.note(UNMAPPED, where, f"prefix {str(prefix)!r} {problem}; declare the folder by hand")
        return None

    def statement(self, statement: dict[str, Any], where: str) -> None:
        if statement.get("Effect") != "Allow":
            return
        actions = [str(a) for a in _listed(statement.get("Action"))]
        resources = _listed(statement.get("Resource"))
        named = ", ".join(self.named(r) for r in resources) or "?"
        for action in actions:
            if action in PUBLISH_ACTIONS:
                self.proposal.note(UNMAPPED, where, f"{action} to {named}: publishing goes through POST"
                                   " /apps/<slug>/events; declare the types in [apps.<slug>.events] publishes")  # fmt: skip
            elif action not in PLATFORM_GRANTS:
                self.proposal.note(EXCEEDS, where, f"{action} on {named}: the platform's per-app role grants its"
                                   " folder and /service routes only")  # fmt: skip
        granted = [a for a in actions if a in PLATFORM_GRANTS]
        if "*" in resources and granted:
            self.proposal.note(EXCEEDS, where, "Resource '*': the platform grants the app's own folder only")
        elif granted:
            self.proposal.note(MAPPED, where, f"{', '.join(granted)} on {named}: the platform's per-app role"
                               " grants these on the app's own folder")  # fmt: skip


def _environment_message(key: str, value: Any, named: Any) -> str:
    if SECRET_NAME.search(key):
        message = ("looks like a secret: declare a third-party key as an integration (the platform injects"
                   " it); keep others in the app's secret store")  # fmt: skip
    else:
        message = "an environment value of the app's own backend"
    if isinstance(value, Intrinsic):
        return f"{message}; its value is {named(value)}"
    if isinstance(value, FromEnvironment):
        return f"{message}; its value came from the environment ({', '.join(value.names)}) and is not written"
    if isinstance(value, Unresolved):
        return f"{message}; its value is not resolved here ({value.reason})"
    return message


def _route(spec: Any) -> tuple[str, str]:
    if isinstance(spec, str):  # "GET /items/{id}" (http) or "GET /items" (httpApi)
        method, _, path = spec.partition(" ")
        return method.upper(), path or "/"
    spec = spec if isinstance(spec, dict) else {}
    return str(spec.get("method", "ANY")).upper(), "/" + str(spec.get("path", "")).lstrip("/")
