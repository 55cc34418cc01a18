"""A Serverless Framework v3 service (`serverless.yml`) -> a Proposal and a report.

- functions' `http` / `httpApi` events -> routes to admit (the report: the manifest declares no
  routes; the app's backend keeps serving them, and calls the platform as its service principal);
- `s3` events -> folders (a `prefix` rule names the folder; members write and read, to review);
- `sqs` / `sns` events and `sqs:SendMessage` / `sns:Publish` permissions -> what the app consumes
  and publishes, reported with the manifest section to declare it in;
- `provider.environment` and functions' environment -> reported (secrets belong elsewhere);
- IAM statements -> those the platform's per-app policy would not grant, listed.

CloudFormation intrinsic tags (`!Ref`, `!GetAtt`...) and variables (`${self:custom.x}`) cannot be
evaluated here: the file is refused, each with its place, before anything else happens. Render
the service first (`serverless print --stage dev > rendered.yml`) and import that.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from integreat.blueprints.proposal import EXCEEDS, MAPPED, ROUTE, UNMAPPED, BlueprintError, Folder, Proposal

VARIABLE = re.compile(r"\$\{[^}]*\}")
SEGMENT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
#: What the platform's per-app role already allows (its folder, its /service routes), by prefix.
PLATFORM_GRANTS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket",
                   "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "execute-api:Invoke")  # fmt: skip
PUBLISH_ACTIONS = ("sqs:SendMessage", "sqs:SendMessageBatch", "sns:Publish")


class _Loader(yaml.SafeLoader):
    """SafeLoader that records custom tags instead of failing on the first one."""

    tags_found: list[str]


def _record_tag(loader: _Loader, suffix: str, node: yaml.Node) -> None:
    loader.tags_found.append(f"line {node.start_mark.line + 1}: !{suffix}")


_Loader.add_multi_constructor("!", _record_tag)


def load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise BlueprintError(str(path), ["no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BlueprintError(str(path), [f"cannot read it: {exc}"]) from None
    loader = _Loader(text)
    loader.tags_found = []
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise BlueprintError(str(path), [f"not valid YAML: {exc}"]) from None
    finally:
        loader.dispose()
    problems = [
        f"{tag}: a CloudFormation intrinsic tag cannot be evaluated here; render the service first"
        " (`serverless print`) or write the value" for tag in loader.tags_found
    ]  # fmt: skip
    if not isinstance(data, dict):
        raise BlueprintError(
            str(path), [*problems, "serverless.yml must be a mapping with `service` and `functions`"]
        )
    problems += [f"{where}: variable {var} cannot be resolved here; render the service first"
                 " (`serverless print --stage dev`)" for where, var in _variables(data, "")]  # fmt: skip
    problems += _shape(data)
    if problems:
        raise BlueprintError(str(path), problems)
    return data


def _variables(value: Any, where: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(where or "(top)", var) for var in VARIABLE.findall(value)]
    if isinstance(value, dict):
        return [v for k, item in value.items() for v in _variables(item, f"{where}.{k}" if where else str(k))]
    if isinstance(value, list):
        return [v for i, item in enumerate(value) for v in _variables(item, f"{where}[{i}]")]
    return []


def _shape(data: dict[str, Any]) -> list[str]:
    problems = []
    version = str(data.get("frameworkVersion", "3"))
    if not version.lstrip("^~>= ").startswith("3"):
        problems.append(f"frameworkVersion {version!r}: this importer reads Serverless Framework v3 services")
    if not isinstance(data.get("service"), str | dict):
        problems.append("`service` is missing: a Serverless service names itself")
    provider = data.get("provider")
    if not isinstance(provider, dict) or provider.get("name") != "aws":
        problems.append("`provider.name` must be aws")
    if not isinstance(data.get("functions"), dict):
        problems.append("`functions` is missing or not a mapping: nothing to import")
    return problems


def propose(data: dict[str, Any], slug: str) -> Proposal:
    service = data["service"] if isinstance(data["service"], str) else data["service"].get("name", slug)
    proposal = Proposal(slug=slug, name=str(service).replace("-", " ").replace("_", " ").title())
    provider = data.get("provider") or {}
    _environment(provider.get("environment") or {}, "provider.environment", proposal)
    for name, function in (data.get("functions") or {}).items():
        where = f"functions.{name}"
        _environment((function or {}).get("environment") or {}, f"{where}.environment", proposal)
        for index, event in enumerate((function or {}).get("events") or []):
            _event(event, f"{where}.events[{index}]", str(name), proposal)
    for index, statement in enumerate(_statements(provider)):
        _statement(statement, f"iam statement {index + 1}", proposal)
    if data.get("resources"):
        proposal.note(UNMAPPED, "resources", "CloudFormation resources of the service: the platform provides the"
                      " bucket, queues and database; anything else stays the app's own")  # fmt: skip
    return proposal


def _environment(env: dict[str, Any], where: str, proposal: Proposal) -> None:
    for key in env:
        if SECRET_NAME.search(str(key)):
            proposal.note(UNMAPPED, f"{where}.{key}", "looks like a secret: declare a third-party key as an"
                          " integration (the platform injects it); keep others in the app's secret store")  # fmt: skip
        else:
            proposal.note(UNMAPPED, f"{where}.{key}", "an environment value of the app's own backend")


def _event(event: Any, where: str, function: str, proposal: Proposal) -> None:
    if not isinstance(event, dict) or len(event) != 1:
        proposal.note(UNMAPPED, where, "not an event this importer knows")
        return
    ((kind, spec),) = event.items()
    if kind in ("http", "httpApi"):
        method, path = _route(spec)
        proposal.note(ROUTE, where, f"{method} {path} (function {function}): served by the app's backend; it"
                      " reaches other apps and third parties through /service/... routes and integrations")  # fmt: skip
    elif kind == "s3":
        _s3(spec if isinstance(spec, dict) else {"bucket": spec}, where, proposal)
    elif kind in ("sqs", "sns"):
        source = spec if isinstance(spec, str) else (spec or {}).get("arn") or (spec or {}).get("topicName")
        proposal.note(UNMAPPED, where, f"consumes {kind} {source}: on the platform, subscribe in"
                      " [[apps.<slug>.events.subscribes]] (from = the producing app, types = its event types)")  # fmt: skip
    else:
        proposal.note(UNMAPPED, where, f"a {kind!r} event has no platform equivalent; the app keeps it")


def _route(spec: Any) -> tuple[str, str]:
    if isinstance(spec, str):  # "GET /items/{id}" (http) or "GET /items" (httpApi)
        method, _, path = spec.partition(" ")
        return method.upper(), path or "/"
    spec = spec or {}
    return str(spec.get("method", "ANY")).upper(), "/" + str(spec.get("path", "")).lstrip("/")


def _s3(spec: dict[str, Any], where: str, proposal: Proposal) -> None:
    prefixes = [r["prefix"] for r in spec.get("rules") or [] if isinstance(r, dict) and "prefix" in r]
    if not prefixes:
        proposal.note(UNMAPPED, where, f"s3 events of the whole bucket {spec.get('bucket')!r}: declare the app's"
                      " folders by hand (the platform tells the app about uploads through its inbox)")  # fmt: skip
        return
    for prefix in prefixes:
        path = str(prefix).strip("/") + "/"
        if not all(SEGMENT.fullmatch(s) for s in path[:-1].split("/")):
            proposal.note(UNMAPPED, where, f"prefix {prefix!r} gives no platform folder name")
            continue
        proposal.add_folder(path, Folder(write="members", read="members"), where)
        proposal.note(MAPPED, where, f"folder {path!r} (members write and read: review); the app hears of uploads"
                      " through its inbox instead of an s3 event")  # fmt: skip


def _statements(provider: dict[str, Any]) -> list[dict[str, Any]]:
    modern = (provider.get("iam") or {}).get("role") or {}
    statements = modern.get("statements") if isinstance(modern, dict) else None
    found = (statements or []) + (provider.get("iamRoleStatements") or [])  # v3 and the older form
    return [s for s in found if isinstance(s, dict)]


def _statement(statement: dict[str, Any], where: str, proposal: Proposal) -> None:
    if statement.get("Effect") != "Allow":
        return
    actions = statement.get("Action") or []
    resources = statement.get("Resource") or []
    actions = [actions] if isinstance(actions, str) else list(actions)
    resources = [resources] if isinstance(resources, str) else list(resources)
    for action in actions:
        if action in PUBLISH_ACTIONS:
            proposal.note(UNMAPPED, where, f"{action}: publishing goes through POST /apps/<slug>/events; declare the"
                          " types in [apps.<slug>.events] publishes")  # fmt: skip
        elif action not in PLATFORM_GRANTS:
            proposal.note(EXCEEDS, where, f"{action} on {', '.join(map(str, resources)) or '?'}: the platform's"
                          " per-app role grants its folder and /service routes only")  # fmt: skip
    if "*" in resources and any(a in PLATFORM_GRANTS for a in actions):
        proposal.note(EXCEEDS, where, "Resource '*': the platform grants the app's own folder only")
