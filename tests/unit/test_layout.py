"""The house rules of the repository layout (app.py only wires, chalicelib stands alone, modules stay small), checked from source with `ast`.

Every check is a small function that is tested twice: on a synthetic input that breaks the rule
(so the check can fail) and on the real tree.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from chalicelib.settings import STAGES

ROOT = Path(__file__).resolve().parents[2]
CHALICELIB = ROOT / "chalicelib"
APP_PY = ROOT / "app.py"
MAX_MODULE_LINES = 400
TARGET_MODULE_LINES = 300  # the house rule: "around 300 lines or fewer"
#: Operator tooling and test libraries: none of them is in the Lambda package.
NOT_IN_LAMBDA = frozenset({"integreat", "typer", "rich", "moto", "pytest"})
#: The Lambda Python runtime already ships these; packaging them again only bloats the zip.
PROVIDED_BY_LAMBDA = frozenset({"boto3", "botocore"})


# --- the checkers -------------------------------------------------------------------------------


def imported_roots(source: str) -> set[str]:
    """Top-level packages that `source` imports absolutely, anywhere (functions, try, if)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def forbidden_imports(
    files: Iterable[Path], forbidden: Iterable[str], root: Path = ROOT
) -> dict[str, set[str]]:
    """{path relative to `root`: forbidden packages it imports}, for the files that import any."""
    banned = set(forbidden)
    found = {str(p.relative_to(root)): imported_roots(p.read_text()) & banned for p in files}
    return {path: names for path, names in found.items() if names}


def _is_chalice_app(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["app"]
        and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "id", None) == "Chalice"
    )


def _is_register_blueprint(node: ast.stmt) -> bool:
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return False
    func = node.value.func
    return isinstance(func, ast.Attribute) and func.attr == "register_blueprint"


def _is_docstring(index: int, node: ast.stmt) -> bool:
    return index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)


def app_py_violations(source: str) -> list[str]:
    """Top-level statements of app.py that are not imports, `app = Chalice(...)` or blueprints."""
    violations = []
    for index, node in enumerate(ast.parse(source).body):
        allowed = (
            isinstance(node, ast.Import | ast.ImportFrom)
            or _is_docstring(index, node)
            or _is_chalice_app(node)
            or _is_register_blueprint(node)
        )
        if not allowed:
            violations.append(f"line {node.lineno}: {ast.unparse(node).splitlines()[0]}")
    return violations


def requirement_names(text: str) -> set[str]:
    """Normalised (PEP 503) distribution names in a requirements file."""
    names = set()
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if match and not line.startswith("-"):
            names.add(re.sub(r"[-_.]+", "-", match[0]).lower())
    return names


def module_lengths(*packages: Path, root: Path = ROOT) -> dict[str, int]:
    """{path relative to `root`: line count} of every Python module under `packages`."""
    return {
        str(path.relative_to(root)): len(path.read_text().splitlines())
        for package in packages
        for path in sorted(package.rglob("*.py"))
    }


def length_report(lengths: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """(modules over MAX_MODULE_LINES, modules over TARGET_MODULE_LINES)."""
    over_max = {p: n for p, n in lengths.items() if n > MAX_MODULE_LINES}
    over_target = {p: n for p, n in lengths.items() if n > TARGET_MODULE_LINES}
    return over_max, over_target


# --- the checkers can fail ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "import integreat",
        "import integreat.cli",
        "import os, integreat as ig",
        "from integreat import cli",
        "from integreat.context import role_url",
        "def f():\n    import integreat\n",
        "try:\n    from integreat.local import postgres\nexcept ImportError:\n    pass\n",
        "if TYPE_CHECKING:\n    from integreat.cli import main\n",
    ],
)
def test_import_checker_catches_every_form_of_importing_integreat(source: str) -> None:
    assert "integreat" in imported_roots(source)


@pytest.mark.parametrize(
    "source",
    [
        "import integreatx",
        "from chalicelib import integreat_names",
        "from . import integreat",  # relative: a sibling module, not the operator package
        "x = 'import integreat'",
        "# import integreat",
    ],
)
def test_import_checker_ignores_what_is_not_the_integreat_package(source: str) -> None:
    assert "integreat" not in imported_roots(source)


def test_forbidden_imports_reports_only_the_offending_files(tmp_path: Path) -> None:
    # Given a synthetic package with one clean and one offending module
    (tmp_path / "pkg" / "deep").mkdir(parents=True)
    (tmp_path / "pkg" / "clean.py").write_text("import json\nfrom . import integreat\n")
    (tmp_path / "pkg" / "deep" / "bad.py").write_text("from integreat.cli import main\nimport typer\n")

    # When the package is checked
    found = forbidden_imports(sorted(tmp_path.rglob("*.py")), NOT_IN_LAMBDA, root=tmp_path)

    # Then the offending module is named with both packages, and the clean one is absent
    assert found == {str(Path("pkg", "deep", "bad.py")): {"integreat", "typer"}}


@pytest.mark.parametrize(
    "source",
    [
        "@app.route('/')\ndef index():\n    return {}\n",
        "def helper():\n    pass\n",
        "app.debug = True\n",
        "import os\nDB = os.environ['X']\n",
        "class Handler:\n    pass\n",
        "app = Chalice(app_name='x')\nprint(app)\n",
    ],
)
def test_app_py_checker_catches_anything_but_wiring(source: str) -> None:
    assert app_py_violations(source)


def test_app_py_checker_accepts_pure_wiring() -> None:
    source = (
        '"""Entry point."""\nfrom __future__ import annotations\nfrom chalice.app import Chalice\n'
        "from chalicelib.gateway.health import health\napp = Chalice(app_name='x')\n"
        "app.register_blueprint(health)\napp.register_blueprint(health, url_prefix='/v1')\n"
    )

    assert app_py_violations(source) == []


def test_requirement_names_parses_pins_extras_markers_and_comments() -> None:
    text = (
        "# runtime\nBoto3==1.34.0\nbotocore>=1.34 ; python_version >= '3.11'\n"
        "psycopg2_binary==2.9.13  # db\naws-lambda-powertools[tracer]~=3.0\n-r other.txt\n\n"
    )

    assert requirement_names(text) == {"boto3", "botocore", "psycopg2-binary", "aws-lambda-powertools"}


def test_module_lengths_counts_lines_of_every_module(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "small.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "sub" / "big.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    (tmp_path / "pkg" / "notes.txt").write_text("not a module\n" * 1000)

    lengths = module_lengths(tmp_path / "pkg", root=tmp_path)

    assert lengths == {
        str(Path("pkg", "small.py")): 1,
        str(Path("pkg", "sub", "big.py")): MAX_MODULE_LINES + 1,
    }
    assert length_report(lengths)[0] == {str(Path("pkg", "sub", "big.py")): MAX_MODULE_LINES + 1}


def test_length_report_separates_over_max_from_over_target() -> None:
    lengths = {"a.py": 120, "b.py": TARGET_MODULE_LINES + 1, "c.py": MAX_MODULE_LINES + 1}

    assert length_report(lengths) == (
        {"c.py": MAX_MODULE_LINES + 1},
        {"b.py": TARGET_MODULE_LINES + 1, "c.py": MAX_MODULE_LINES + 1},
    )


# --- the real tree ------------------------------------------------------------------------------


def runtime_files() -> list[Path]:
    return [*sorted(CHALICELIB.rglob("*.py")), APP_PY]


def test_the_tree_has_runtime_modules_to_check() -> None:
    files = runtime_files()

    assert APP_PY.is_file()
    assert len(files) > 10
    assert CHALICELIB / "tenancy" / "slugs.py" in files


def test_runtime_code_never_imports_integreat() -> None:
    assert forbidden_imports(runtime_files(), {"integreat"}) == {}


def test_chalicelib_never_imports_tooling_or_test_libraries() -> None:
    assert forbidden_imports(sorted(CHALICELIB.rglob("*.py")), NOT_IN_LAMBDA) == {}


def test_app_py_only_wires() -> None:
    source = APP_PY.read_text()

    assert app_py_violations(source) == []
    assert "register_blueprint" in source


def test_requirements_leave_out_what_lambda_provides() -> None:
    names = requirement_names((ROOT / "requirements.txt").read_text())

    assert names, "requirements.txt lists nothing"
    assert names.isdisjoint(PROVIDED_BY_LAMBDA), sorted(names & PROVIDED_BY_LAMBDA)


def test_chalice_config_defines_the_three_stages() -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    stages = config["stages"]

    assert {"local", "dev", "prod"} <= set(stages)
    for name, stage in stages.items():
        # Each stage tells the runtime which stage it is, with a value Settings accepts.
        assert stage["environment_variables"]["INTEGREAT_STAGE"] == name
        assert name in STAGES


def test_modules_stay_small() -> None:
    lengths = module_lengths(CHALICELIB, ROOT / "integreat")
    over_max, over_target = length_report(lengths)

    assert len(lengths) > 10
    assert over_max == {}, (
        f"modules over {MAX_MODULE_LINES} lines: {over_max}; "
        f"over the {TARGET_MODULE_LINES}-line target: {over_target}"
    )
