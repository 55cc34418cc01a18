"""The Lambda deployment package and the CDK synthesis.

- `package.zip_mb`, `package.unzipped_mb`: `chalice package --stage dev`'s deployment.zip, the
  one archive every function ships (goal zip <= 15 MB; Lambda's limits are 50 MB zipped and
  250 MB unzipped). `package.bundles_boto3` must be false: the runtime provides boto3.
- `infra.synth_seconds`: synthesizing the prod stack (Chalice packaging included, cdk-nag
  applied) after dev in the same process; `infra.first_synth_seconds`: dev, the first, which also
  pays for starting jsii's Node.js process and loading the CDK.

Run alone: `.venv/bin/python -m benchmarks package`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"package.zip_mb": ("<=", 15.0)}
MB = 1024 * 1024


def run() -> dict[str, float | bool]:
    from chalice.api import package_app

    from integreat.infra.app import preserved_environ, synthesize

    out = Path(tempfile.mkdtemp(prefix="integreat-bench-package-"))
    try:
        with preserved_environ():
            os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
            package_app(project_dir=str(ROOT), output_dir=str(out / "package"), stage="dev")
        archive = out / "package" / "deployment.zip"
        with zipfile.ZipFile(archive) as zipped:
            unzipped = sum(info.file_size for info in zipped.infolist())
            bundles_boto3 = any(n.startswith(("boto3/", "botocore/")) for n in zipped.namelist())
        first = synthesize("dev", out / "dev", ROOT / "integreat.toml")
        prod = synthesize("prod", out / "prod", ROOT / "integreat.toml")
        return {
            "package.zip_mb": round(archive.stat().st_size / MB, 2),
            "package.unzipped_mb": round(unzipped / MB, 2),
            "package.bundles_boto3": bundles_boto3,
            "infra.synth_seconds": round(prod.seconds, 2),
            "infra.first_synth_seconds": round(first.seconds, 2),
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)
