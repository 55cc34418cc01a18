"""The CDK app entry point for the AWS CDK CLI: `cdk deploy --app "python -m integreat.infra.main prod"`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from integreat.infra.app import synthesize

if __name__ == "__main__":
    # The CDK CLI tells the app where to write (CDK_OUTDIR).
    synthesize(sys.argv[1] if len(sys.argv) > 1 else "dev", Path(os.environ.get("CDK_OUTDIR", "cdk.out")))
