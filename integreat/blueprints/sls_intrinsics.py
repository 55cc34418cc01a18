"""CloudFormation intrinsic functions in a Serverless service, kept as typed references.

`!Ref EventsQueue`, `!GetAtt EventsQueue.Arn`, `{"Fn::Sub": ...}` name values that exist only once
a stack is deployed. They become `Intrinsic` values carrying the YAML line they came from, so the
mapping can still tell "this is the service's own queue" and the report can point at the line.

The tags and the `!GetAtt A.B` split are the Framework's own: v3 loads serverless.yml with js-yaml
and the CloudFormation schema of @serverless/utils (`cloudformation-schema.js`), which turns each
`!Name` tag of the list below, in scalar, sequence or mapping form, into `{"Fn::Name": value}`
(`Ref` and `Condition` keep their names). PyYAML's constructors do the same here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

#: The tags of the Framework's YAML schema (@serverless/utils cloudformation-schema.js).
FUNCTIONS = ("And", "Base64", "Cidr", "Condition", "Equals", "FindInMap", "GetAtt", "GetAZs", "If",
             "ImportValue", "Join", "Not", "Or", "Ref", "Select", "Split", "Sub")  # fmt: skip
#: Their long names, as a one-key mapping writes them (`Ref: X`, `Fn::GetAtt: [X, Arn]`).
#: `Condition` is left out of the mapping form: it is also a key of IAM statements and resources.
LONG_NAMES = frozenset({"Ref"} | {f"Fn::{name}" for name in FUNCTIONS if name not in ("Ref", "Condition")})
#: `${Name}` and `${Name.Attr}` in a `Fn::Sub` template; `${AWS::Region}` and `${!Literal}` are not resources.
SUB_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")
#: What the importer can say about the service's own resources, by CloudFormation type.
KINDS = {"AWS::SQS::Queue": "queue", "AWS::SNS::Topic": "topic", "AWS::S3::Bucket": "bucket",
         "AWS::DynamoDB::Table": "table"}  # fmt: skip


def long_name(tag: str) -> str:
    return tag if tag in ("Ref", "Condition") else f"Fn::{tag}"


@dataclass(frozen=True)
class Intrinsic:
    """A CloudFormation intrinsic function as written: `function` is its long name ("Ref",
    "Fn::GetAtt"), `argument` its value, `line` the 1-based line it starts on, `file` the file
    (empty for the service file itself).

    >>> Intrinsic("Fn::GetAtt", ["EventsQueue", "Arn"], 31).where
    'line 31'
    """

    function: str
    argument: Any
    line: int
    file: str = ""

    @property
    def where(self) -> str:
        return f"{self.file} line {self.line}" if self.file else f"line {self.line}"

    def __str__(self) -> str:
        """The short form, as written in YAML: `!GetAtt EventsQueue.Arn`, `!Join ['', [...]]`."""
        tag = "!" + self.function.removeprefix("Fn::")
        if self.function == "Fn::GetAtt" and _is_strings(self.argument):
            return f"{tag} {'.'.join(self.argument)}"
        if isinstance(self.argument, str):
            return f"{tag} {self.argument}"
        return f"{tag} {_flow(self.argument)}"

    def resources(self) -> list[str]:
        """The logical ids of the resources it points to, in order, once each."""
        return list(dict.fromkeys(_referenced(self)))


def _flow(value: Any) -> str:
    """A value in YAML's flow style, nested references in their short form."""
    if isinstance(value, Intrinsic):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    return repr(value) if isinstance(value, str) else str(value)


def _is_strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _referenced(value: Any) -> list[str]:
    if isinstance(value, Intrinsic):
        return _direct(value) + _referenced(value.argument)
    if isinstance(value, dict):
        return [name for item in value.values() for name in _referenced(item)]
    if isinstance(value, list):
        return [name for item in value for name in _referenced(item)]
    return []


def _direct(value: Intrinsic) -> list[str]:
    argument = value.argument
    if value.function == "Ref" and isinstance(argument, str) and not argument.startswith("AWS::"):
        return [argument]
    if value.function == "Fn::GetAtt" and isinstance(argument, list) and argument:
        return [str(argument[0])]
    if value.function == "Fn::Sub":
        template = argument[0] if isinstance(argument, list) and argument else argument
        own = (
            set(argument[1])
            if isinstance(argument, list) and len(argument) > 1 and isinstance(argument[1], dict)
            else set()
        )
        return [name for name in SUB_PLACEHOLDER.findall(str(template)) if name not in own]
    return []


def own_resources(value: Any, resources: dict[str, str]) -> list[tuple[str, str]]:
    """(logical id, CloudFormation type) of the service's own resources that `value` points to."""
    found = value.resources() if isinstance(value, Intrinsic) else []
    return [(name, resources[name]) for name in found if name in resources]


def describe(value: Any, resources: dict[str, str]) -> str:
    """How the report names a value: a reference to the service's own resource says which.

    >>> describe(Intrinsic("Ref", "EventsQueue", 9), {"EventsQueue": "AWS::SQS::Queue"})
    "the service's own queue EventsQueue (!Ref EventsQueue, line 9)"
    """
    if not isinstance(value, Intrinsic):
        return str(value)
    own = own_resources(value, resources)
    if not own:
        outside = (
            f"; {', '.join(value.resources())} is not a resource of this service" if value.resources() else ""
        )
        return f"a CloudFormation reference {value} ({value.where}{outside})"
    names = ", ".join(f"{KINDS.get(kind, kind)} {name}" for name, kind in own)
    return f"the service's own {names} ({value}, {value.where})"


class ServerlessLoader(yaml.SafeLoader):
    """SafeLoader with the Framework's CloudFormation tags, each read into an `Intrinsic`."""

    file = ""  # the file's name in references' places; empty for the service file


def _tag(function: str) -> Any:
    def construct(loader: ServerlessLoader, node: yaml.Node) -> Intrinsic:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return _intrinsic(function, value, node, loader)

    return construct


def _intrinsic(function: str, value: Any, node: yaml.Node, loader: ServerlessLoader) -> Intrinsic:
    if function == "Fn::GetAtt" and isinstance(value, str):
        # AWS splits `!GetAtt A.B.C` at the first dot: attribute names may hold dots (Endpoint.Address).
        value = value.split(".", 1)
    return Intrinsic(function, value, node.start_mark.line + 1, loader.file)


def _mapping(loader: ServerlessLoader, node: yaml.MappingNode) -> Any:
    """A one-key mapping `Ref: X` / `Fn::Name: ...` is the long form of a tag; others are mappings."""
    if len(node.value) == 1:
        key, value = node.value[0]
        if isinstance(key, yaml.ScalarNode) and key.value in LONG_NAMES:
            return _intrinsic(key.value, loader.construct_object(value, deep=True), node, loader)
    return loader.construct_yaml_map(node)  # a generator: PyYAML fills it in two steps


for _name in FUNCTIONS:
    ServerlessLoader.add_constructor(f"!{_name}", _tag(long_name(_name)))
ServerlessLoader.add_constructor("tag:yaml.org,2002:map", _mapping)


def load_yaml(text: str, file: str = "") -> Any:
    """Parse YAML as the Framework does; an unknown `!Tag` is a YAML error, as in js-yaml."""
    loader = ServerlessLoader(text)
    loader.file = file
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
