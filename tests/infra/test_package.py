"""`chalice package --stage dev` (what the plain `chalice deploy` path ships): the SAM template
passes cfn-lint with 0 errors, and the deployment package leaves boto3 to the Lambda runtime."""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.conftest import PROJECT


@pytest.fixture(scope="session")
def package() -> Iterator[Path]:
    from chalice.api import package_app

    from integreat.infra.app import preserved_environ

    out = Path(tempfile.mkdtemp(prefix="integreat-package-"))
    try:
        with preserved_environ():
            os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")  # chalice asks botocore for one
            package_app(project_dir=str(PROJECT), output_dir=str(out / "dev"), stage="dev")
        yield out / "dev"
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_the_sam_template_passes_cfn_lint(package: Path) -> None:
    from cfnlint.api import lint_file

    matches = lint_file(package / "sam.json")
    errors = [m for m in matches if m.rule.id.startswith("E")]
    assert [str(m) for m in errors] == []


def test_the_package_leaves_boto3_to_the_runtime(package: Path) -> None:
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        names = archive.namelist()
    assert "app.py" in names
    assert any(n.startswith("chalicelib/gateway/") for n in names)
    assert any(n.startswith("psycopg2/") for n in names)  # the Linux wheel, not this machine's
    assert not any(n.startswith(("boto3/", "botocore/", "integreat/", "tests/")) for n in names)
