"""A Serverless Framework v3 service (`serverless.yml`) -> a Proposal and a report.

- functions' `http` / `httpApi` events -> routes to admit (the report: the manifest declares no
  routes; the app's backend keeps serving them, and calls the platform as its service principal);
- `s3` events -> folders (a `prefix` rule names the folder; members write and read, to review);
- `sqs` / `sns` events and `sqs:SendMessage` / `sns:Publish` permissions -> what the app consumes
  and publishes, reported with the manifest section to declare it in;
- `provider.environment` and functions' environment -> reported (secrets belong elsewhere);
- IAM statements -> those the platform's per-app policy would not grant, listed.

The file is read as the Framework reads it, without the Framework: variables are resolved for the
stage and region given (`sls_variables.py`: `self`, `opt`, `sls`, `env`, `file`, fallbacks), and
CloudFormation tags become references (`sls_intrinsics.py`), matched against the service's own
`resources.Resources` where the mapping needs to know what they point to. What needs the cloud
or a plugin (`${ssm:...}`, `${cf:...}`) stays as written and is reported with its key. Only a file
that is not YAML, not Serverless v3 or not an AWS service is refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from integreat.blueprints import sls_mapping
from integreat.blueprints.proposal import MAPPED, UNMAPPED, BlueprintError, Proposal
from integreat.blueprints.sls_intrinsics import load_yaml
from integreat.blueprints.sls_sources import DEFAULT_REGION, DEFAULT_STAGE, FromEnvironment, Options
from integreat.blueprints.sls_variables import Note, Resolver, Unresolved


@dataclass(frozen=True)
class Service:
    """A service as the Framework would see it for one stage: `config` resolved, `notes` on what
    could not be, `resources` its own CloudFormation resources (logical id -> type)."""

    config: dict[str, Any]
    notes: tuple[Note, ...]
    resources: dict[str, str]


def load(path: Path, *, stage: str | None = None, region: str | None = None,
         environ: Mapping[str, str] | None = None) -> Service:  # fmt: skip
    """Read and resolve `path`; `environ` (default: this process's) answers `${env:...}`."""
    data = _parse(path)
    options = Options(stage, region, os.environ if environ is None else environ, path.parent)
    resolver = Resolver(data, options)
    config = resolver.resolve()
    problems = _shape(config)
    if problems:
        raise BlueprintError(str(path), problems)
    notes = [*_summary(config, options, resolver), *resolver.notes]
    return Service(config, tuple(notes), _resources(config))


def _parse(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise BlueprintError(str(path), ["no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BlueprintError(str(path), [f"cannot read it: {exc}"]) from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise BlueprintError(str(path), [f"not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise BlueprintError(str(path), ["serverless.yml must be a mapping with `service` and `functions`"])
    return data


def _shape(data: dict[str, Any]) -> list[str]:
    problems = []
    version = data.get("frameworkVersion", "3")
    if not isinstance(version, Unresolved) and not str(version).lstrip("^~>= ").startswith("3"):
        problems.append(
            f"frameworkVersion {str(version)!r}: this importer reads Serverless Framework v3 services"
        )
    if not isinstance(data.get("service"), str | dict | Unresolved):
        problems.append("`service` is missing: a Serverless service names itself")
    provider = data.get("provider")
    if not isinstance(provider, dict) or provider.get("name") != "aws":
        problems.append("`provider.name` must be aws")
    if not isinstance(data.get("functions"), dict):
        problems.append("`functions` is missing or not a mapping: nothing to import")
    return problems


def _summary(config: dict[str, Any], options: Options, resolver: Resolver) -> list[Note]:
    if not resolver.variables_seen:
        return []
    provider = config.get("provider") or {}
    stage = _chosen(options.stage, "stage", provider.get("stage"), DEFAULT_STAGE)
    region = _chosen(options.region, "region", provider.get("region"), DEFAULT_REGION)
    return [Note(MAPPED, "variables", f"resolved as the Framework would for stage {stage} and region"
                 f" {region}; pass --stage / --region for another")]  # fmt: skip


def _chosen(given: str | None, option: str, configured: Any, default: str) -> str:
    if given:
        return f"{given!r} (--{option})"
    if isinstance(configured, str) and configured:
        return f"{configured!r} (provider.{option})"
    return f"{default!r} (the Framework's default)"


def _resources(config: dict[str, Any]) -> dict[str, str]:
    section = config.get("resources")
    found = section.get("Resources") if isinstance(section, dict) else None
    if not isinstance(found, dict):
        return {}
    return {str(name): str(spec.get("Type")) for name, spec in found.items() if isinstance(spec, dict)}


def propose(service: Service, slug: str) -> Proposal:
    data = service.config
    name, naming = _name(data.get("service"), slug)
    proposal = Proposal(slug=slug, name=name)
    for note in [*service.notes, *naming]:
        proposal.note(note.kind, note.key, note.message)
    mapping = sls_mapping.Mapping(proposal, service.resources)
    provider = data.get("provider") or {}
    mapping.environment(provider.get("environment") or {}, "provider.environment")
    for name, function in (data.get("functions") or {}).items():
        mapping.function(str(name), function if isinstance(function, dict) else {})
    for index, statement in enumerate(sls_mapping.statements(provider)):
        mapping.statement(statement, f"iam statement {index + 1}")
    if service.resources:
        listed = ", ".join(f"{name} ({kind})" for name, kind in service.resources.items())
        proposal.note(UNMAPPED, "resources", f"CloudFormation resources of the service ({listed}): the platform"
                      " provides the bucket, queues and database; anything else stays the app's own")  # fmt: skip
    return proposal


def _name(service: Any, slug: str) -> tuple[str, list[Note]]:
    """The app's display name, from the service's name unless that is not known here."""
    name = service.get("name", slug) if isinstance(service, dict) else service
    if isinstance(name, FromEnvironment) or not isinstance(name, str):
        note = Note(UNMAPPED, "service", f"the service's name is not known here ({name}): the app is named"
                    " after its slug")  # fmt: skip
        return slug.replace("_", " ").title(), [note]
    return name.replace("-", " ").replace("_", " ").title(), []
