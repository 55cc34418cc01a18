"""The AWS CDK app: one stack per stage (`integreat synth --stage prod`), checked offline.

Importing this package quiets jsii's Node.js end-of-life banner (it would print on every
synthesis, CI included); the Node version in use is still the operator's to upgrade.
"""

from __future__ import annotations

import os

# jsii reads a comma-separated list of Node major versions whose end-of-life banner to skip.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,19,20,21,22,23,24,25,26")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
