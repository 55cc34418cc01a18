"""The CDK app entry point for the AWS CDK CLI: `cdk deploy --app "python -m integreat.infra.main prod"`.

The manifest is found as by every command ($INTEGREAT_MANIFEST, else ./integreat.toml):
`integreat deploy --manifest <path>` passes its choice through that variable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from chalicelib.tenancy.manifest import ManifestError
from integreat.infra.app import InfraError, synthesize
from integreat.infra.stages import StageError

if __name__ == "__main__":
    try:
        # The CDK CLI tells the app where to write (CDK_OUTDIR).
        synthesize(sys.argv[1] if len(sys.argv) > 1 else "dev", Path(os.environ.get("CDK_OUTDIR", "cdk.out")))
    except (InfraError, StageError, ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
