"""The layers of `chalicelib`, checked from source with `ast` (like test_layout.py's rules).

A module may import modules of its own layer or of a lower one, never of a higher one: the lowest
layers (db, tenancy) know no feature, and a feature plugs into the app model through its section
(`chalicelib.apps` lists them). Imports inside functions and under TYPE_CHECKING count too: a
lazy import is still a dependency. Every check runs on a planted violation as well, so it can fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FEATURES = (
    "chalicelib.identity",
    "chalicelib.storage",
    "chalicelib.messaging",
    "chalicelib.sharing",
    "chalicelib.integrations",
    "chalicelib.frontends",
    "chalicelib.cells",
    "chalicelib.usage",
)
#: Lowest first. A module belongs to the layer of its longest matching prefix.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Standard library and third-party only, or each other: read by every layer. The slug rules
    # and the tenancy errors are here, not in tenancy: the tenant switch validates slugs with them.
    (
        "base",
        (
            "chalicelib.__init__",
            "chalicelib.settings",
            "chalicelib.ttl",
            "chalicelib.inputs",
            "chalicelib.observability",
            "chalicelib.aws",
            "chalicelib.tenancy.errors",
            "chalicelib.tenancy.slugs",
        ),
    ),
    ("db", ("chalicelib.db",)),  # pool, tenant switch, migrations, role provisioning
    (
        "tenancy",
        ("chalicelib.tenancy", "chalicelib.audit", "chalicelib.batching"),
    ),  # core model, sections, registry
    ("features", FEATURES),
    ("app model", ("chalicelib.apps",)),  # the list of sections: the one module naming every feature
    ("runtime", ("chalicelib.runtime",)),  # services built from settings, once per process
    (
        "edge",
        (
            "chalicelib.gateway",
            "chalicelib.provisioning",
            "chalicelib.storage.handlers",
            "chalicelib.messaging.handlers",
            "chalicelib.identity.triggers",
            "chalicelib.usage.gate",  # the API's side of usage: it reads the runtime's meter
        ),
    ),
    ("entry", ("app",)),
)
#: Modules that only re-export a higher module for callers outside chalicelib (tooling, tests).
ALIASES: Mapping[str, str] = {"chalicelib.tenancy.manifest": "chalicelib.apps.manifest"}

# --- the checker --------------------------------------------------------------------------------


def module_names(root: Path) -> dict[str, Path]:
    """{dotted module name: path} of `chalicelib` and `app.py` under `root`."""
    found = {"app": root / "app.py"} if (root / "app.py").is_file() else {}
    for path in sorted((root / "chalicelib").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(source: str, known: Iterable[str]) -> set[str]:
    """The modules of `known` that `source` imports, anywhere in it (functions, TYPE_CHECKING)."""
    modules = set(known)
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from chalicelib import audit` imports the module chalicelib.audit
            subs = {f"{node.module}.{alias.name}" for alias in node.names}
            found.update(subs & modules or {node.module})
    return {name for name in found if name in modules}


def layer_of(module: str) -> int:
    """The index in LAYERS of `module`'s longest matching prefix."""
    module = "chalicelib.__init__" if module == "chalicelib" else module  # the package itself, not its tree
    best, length = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = index, len(prefix)
    if best < 0:
        raise LookupError(f"{module} is in no layer: add it to LAYERS")
    return best


def violations(root: Path) -> list[str]:
    """Every import of a higher layer, as "<module> (<layer>) imports <module> (<layer>)"."""
    modules = module_names(root)
    found = []
    for module, path in modules.items():
        layer_of(module)  # every module has a layer, importing or not
        for imported in sorted(imports_of(path.read_text(), modules)):
            if ALIASES.get(module) == imported or imported in ALIASES:
                continue  # aliases have their own rules, below
            if layer_of(imported) > layer_of(module):
                below, above = LAYERS[layer_of(module)][0], LAYERS[layer_of(imported)][0]
                found.append(f"{module} ({below}) imports {imported} ({above})")
    return found


def alias_problems(root: Path) -> list[str]:
    """An alias holds re-exports of its target only, and nothing in chalicelib imports it."""
    modules = module_names(root)
    problems = []
    for alias, target in ALIASES.items():
        if alias not in modules:
            continue
        for index, node in enumerate(ast.parse(modules[alias].read_text()).body):
            docstring = index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
            reexport = isinstance(node, ast.ImportFrom) and node.module == target
            if not (docstring or future or reexport):
                problems.append(f"{alias} line {node.lineno}: not a re-export of {target}")
        importers = [m for m, p in modules.items() if alias in imports_of(p.read_text(), modules)]
        problems += [f"{m} imports the alias {alias}: import {target}" for m in importers if m != alias]
    return problems


def plant(root: Path, files: Mapping[str, str]) -> Path:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root


# --- the checker can fail -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("chalicelib/db/leak.py", "from chalicelib.storage.model import StorageSpec\n",
         "chalicelib.db.leak (db) imports chalicelib.storage.model (features)"),
        ("chalicelib/tenancy/leak.py", "def f():\n    from chalicelib.messaging import codec\n",
         "chalicelib.tenancy.leak (tenancy) imports chalicelib.messaging.codec (features)"),
        ("chalicelib/tenancy/hint.py", "if TYPE_CHECKING:\n    import chalicelib.sharing.model\n",
         "chalicelib.tenancy.hint (tenancy) imports chalicelib.sharing.model (features)"),
        ("chalicelib/storage/leak.py", "from chalicelib import apps\n",
         "chalicelib.storage.leak (features) imports chalicelib.apps (app model)"),
        ("chalicelib/settings.py", "from chalicelib.db import errors\n",
         "chalicelib.settings (base) imports chalicelib.db.errors (db)"),
    ],
)  # fmt: skip
def test_a_planted_upward_import_is_reported(tmp_path: Path, module: str, source: str, expected: str) -> None:
    tree = plant(tmp_path, {
        "chalicelib/__init__.py": "", "chalicelib/apps.py": "", "chalicelib/settings.py": "",
        "chalicelib/db/__init__.py": "", "chalicelib/db/errors.py": "",
        "chalicelib/tenancy/__init__.py": "", "chalicelib/storage/__init__.py": "",
        "chalicelib/storage/model.py": "", "chalicelib/messaging/__init__.py": "",
        "chalicelib/messaging/codec.py": "", "chalicelib/sharing/__init__.py": "",
        "chalicelib/sharing/model.py": "", module: source,
    })  # fmt: skip

    assert violations(tree) == [expected]


def test_downward_and_sideways_imports_pass(tmp_path: Path) -> None:
    tree = plant(tmp_path, {
        "chalicelib/__init__.py": "", "chalicelib/settings.py": "",
        "chalicelib/db/__init__.py": "", "chalicelib/db/tenant.py": "from chalicelib.settings import Settings\n",
        "chalicelib/storage/__init__.py": "", "chalicelib/storage/model.py": "",
        "chalicelib/messaging/__init__.py": "",
        "chalicelib/messaging/inbox.py": "from chalicelib.db.tenant import Database\nimport chalicelib.storage.model\n",
        "app.py": "from chalicelib.messaging import inbox\n",
    })  # fmt: skip

    assert violations(tree) == []


def test_a_module_in_no_layer_is_named(tmp_path: Path) -> None:
    tree = plant(tmp_path, {"chalicelib/__init__.py": "", "chalicelib/stray.py": "import json\n"})

    with pytest.raises(LookupError, match=r"chalicelib\.stray is in no layer"):
        violations(tree)


def test_an_alias_with_logic_or_an_importer_inside_chalicelib_is_reported(tmp_path: Path) -> None:
    tree = plant(tmp_path, {
        "chalicelib/__init__.py": "", "chalicelib/apps/__init__.py": "", "chalicelib/apps/manifest.py": "",
        "chalicelib/tenancy/__init__.py": "",
        "chalicelib/tenancy/manifest.py": '"""Alias."""\nfrom chalicelib.apps.manifest import X as X\nY = 1\n',
        "chalicelib/gateway/__init__.py": "",
        "chalicelib/gateway/files.py": "from chalicelib.tenancy.manifest import X\n",
    })  # fmt: skip

    assert alias_problems(tree) == [
        "chalicelib.tenancy.manifest line 3: not a re-export of chalicelib.apps.manifest",
        "chalicelib.gateway.files imports the alias chalicelib.tenancy.manifest: import chalicelib.apps.manifest",
    ]


# --- the real tree ------------------------------------------------------------------------------


def test_every_module_is_in_a_layer() -> None:
    for module in module_names(ROOT):
        layer_of(module)


def test_no_module_imports_a_higher_layer() -> None:
    assert violations(ROOT) == []


def test_db_and_tenancy_import_no_feature() -> None:
    modules = module_names(ROOT)
    low = [m for m in modules if m.startswith(("chalicelib.db", "chalicelib.tenancy")) and m not in ALIASES]

    found = {
        m: sorted(i for i in imports_of(modules[m].read_text(), modules) if i.startswith(FEATURES))
        for m in low
    }
    assert {m: i for m, i in found.items() if i} == {}


def test_aliases_only_re_export() -> None:
    assert alias_problems(ROOT) == []
