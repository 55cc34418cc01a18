"""The IAM policy evaluator lives in integreat/local/iam_eval.py (the local S3 front uses it too);
re-exported here for the tests that import it from tests."""

from __future__ import annotations

from integreat.local.iam_eval import SUPPORTED_OPERATORS, allowed, allowed_by_any

__all__ = ["SUPPORTED_OPERATORS", "allowed", "allowed_by_any"]
