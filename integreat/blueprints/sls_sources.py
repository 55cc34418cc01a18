"""The variable sources the importer resolves without the cloud, as the Framework v3 does.

Each follows its file in serverless v3 `lib/configuration/variables/sources/`:

- `self:a.b`: the configuration at `a.b` (self.js); `opt:name`: a command option, none is "no
  value" (opt.js); `env:NAME`: the environment, unset is "no value" (env.js);
- `sls:stage`: `--stage`, else `provider.stage`, else "dev" (instance-dependent/get-sls.js);
  `aws:region`: `--region`, else `provider.region`, else "us-east-1" (get-aws.js);
- `file(path):a.b`: a file relative to the service's folder, a missing one is "no value";
  YAML with the same CloudFormation tags, JSON, else plain text (file.js); here a path that
  leaves the service's folder is not read, nor is JavaScript run;
- `strToBool(x)`: "true"/"1" and "false"/"0" (str-to-bool.js).

`ssm`, `cf`, `s3` and `aws:accountId` need AWS; `param` needs the Serverless Dashboard; any
other type is a plugin's: all raise Unresolvable, so the value stays as written and is reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from integreat.blueprints.proposal import FLAGGED
from integreat.blueprints.sls_intrinsics import load_yaml
from integreat.blueprints.sls_syntax import Literal, Source, Text

if TYPE_CHECKING:
    from integreat.blueprints.sls_variables import Path as KeyPath
    from integreat.blueprints.sls_variables import Resolver

#: Names whose values are not printed (an environment value's report) nor kept in plain settings.
SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
DEFAULT_STAGE = "dev"  # get-sls.js
DEFAULT_REGION = "us-east-1"  # get-aws.js
CLOUD = {"ssm": "AWS Systems Manager parameters", "cf": "a deployed CloudFormation stack's outputs",
         "s3": "an object in S3", "param": "Serverless Dashboard parameters"}  # fmt: skip


class Unresolvable(Exception):
    """This value cannot be known here (the cloud, a plugin, or an error): kept as written."""


class FromEnvironment(str):
    """A string made, at least in part, from environment variables (`names`) of the machine that
    imports: it is reported, never written into the manifest (it would differ on every machine)."""

    names: tuple[str, ...]

    def __new__(cls, value: str, names: tuple[str, ...]) -> FromEnvironment:
        made = super().__new__(cls, value)
        made.names = names
        return made


@dataclass(frozen=True)
class Options:
    """The import's equivalent of the Framework's command line: `--stage`, `--region`, the
    environment `${env:...}` reads, and the folder `${file(...)}` paths are relative to."""

    stage: str | None = None
    region: str | None = None
    environ: Mapping[str, str] = field(default_factory=dict)
    service_dir: Path = Path()

    def given(self) -> dict[str, str]:
        return {k: v for k, v in (("stage", self.stage), ("region", self.region)) if v is not None}


def resolve(resolver: Resolver, path: KeyPath, source: Source, depth: int) -> Any:
    """The source's value, None if it has none (the next source is tried), or Unresolvable."""
    if source.type is None:
        return source.literal
    if source.type in CLOUD:
        raise Unresolvable(f"${{{source}}} needs {CLOUD[source.type]}; the importer reads no cloud")
    handler = HANDLERS.get(source.type)
    if handler is None:
        raise Unresolvable(f"${{{source}}}: {source.type!r} is a plugin's variable source (or unknown)")
    address = _text(resolver, path, source.address, depth)
    params = [_text(resolver, path, p, depth) for p in source.params]
    return handler(resolver, path, address, params)


def _text(resolver: Resolver, path: KeyPath, text: Text | None, depth: int) -> Any:
    if isinstance(text, Literal):
        return text.value
    return None if text is None else resolver.evaluate(path, text, depth + 1)


def _self(resolver: Resolver, path: KeyPath, address: Any, params: list[Any]) -> Any:
    return resolver.lookup(str(address).split(".") if address else [])


def _opt(resolver: Resolver, path: KeyPath, address: Any, params: list[Any]) -> Any:
    given = resolver.options.given()
    return given if address is None else given.get(str(address))


def _sls(resolver: Resolver, path: KeyPath, address: Any, params: list[Any]) -> Any:
    if address == "stage":
        return resolver.options.stage or resolver.lookup(["provider", "stage"]) or DEFAULT_STAGE
    if address == "instanceId":
        raise Unresolvable("${sls:instanceId} is made by each run of the Framework")
    raise Unresolvable(f"${{sls:{address}}}: the Framework knows only stage and instanceId")


def _aws(resolver: Resolver, path: KeyPath, address: Any, params: list[Any]) -> Any:
    if address == "region":
        return resolver.options.region or resolver.lookup(["provider", "region"]) or DEFAULT_REGION
    if address == "accountId":
        raise Unresolvable("${aws:accountId} needs AWS credentials (STS); the importer reads no cloud")
    raise Unresolvable(f"${{aws:{address}}}: the Framework knows only accountId and region")


def _env(resolver: Resolver, path: KeyPath, address: Any, params: list[Any]) -> Any:
    if not address:
        raise Unresolvable("${env:} names no variable")
    value = resolver.options.environ.get(str(address))
    if value is None:
        resolver.note(
            FLAGGED, path, f"${{env:{address}}}: not set where the import ran; its fallback is used"
        )
        return None
    shown = "withheld: the name looks like a secret" if SECRET_NAME.search(str(address)) else repr(value)
    resolver.note(FLAGGED, path, f"${{env:{address}}} = {shown}: this value came from the environment of the"
                  " machine that imported; it is not written into the manifest (it may differ where the app runs)")  # fmt: skip
    return FromEnvironment(value, (str(address),))


def _str_to_bool(resolver: Resolver, path: KeyPath, address: Any, params: list[Any]) -> Any:
    text = str(params[0] if params else "").strip().lower()
    if text in ("true", "1", "false", "0"):
        return text in ("true", "1")
    raise Unresolvable(f"strToBool({text!r}): expects true, false, 1 or 0")


def _file(resolver: Resolver, path: KeyPath, address: Any, params: list[Any]) -> Any:
    if not params or not params[0]:
        raise Unresolvable("${file()} names no file")
    root = resolver.options.service_dir.resolve()
    target = (root / str(params[0])).resolve()
    if not target.is_relative_to(root):
        raise Unresolvable(f"file({params[0]}) is outside the service's folder: not read")
    content = _read(target, target.relative_to(root).as_posix())
    if address is None or content is None:
        return content
    for key in str(address).split("."):
        if isinstance(content, str):  # file.js resolves a string's variables before indexing it
            content = resolver.evaluate(path, content)
        content = content.get(key) if isinstance(content, dict) else None
        if content is None:
            return None
    return content


def _read(target: Path, name: str) -> Any:
    if target.suffix in (".js", ".cjs", ".mjs"):
        raise Unresolvable(f"{name} is JavaScript: the importer runs no code")
    try:
        text = target.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise Unresolvable(f"cannot read {name}: {exc}") from None
    try:
        if target.suffix in (".yml", ".yaml"):
            return load_yaml(text, name)
        return json.loads(text) if target.suffix in (".json", ".tfstate") else text
    except (yaml.YAMLError, ValueError) as exc:
        raise Unresolvable(f"cannot parse {name}: {exc}") from None


Handler = Callable[["Resolver", "KeyPath", Any, list[Any]], Any]
HANDLERS: dict[str, Handler] = {"self": _self, "opt": _opt, "sls": _sls, "aws": _aws, "env": _env,
                                "file": _file, "strToBool": _str_to_bool}  # fmt: skip
