"""An alias of `chalicelib.apps.manifest`, kept for callers outside `chalicelib` (operator
tooling, tests) that import the manifest from its former home. It holds re-exports only.

The manifest's parser is `chalicelib.tenancy.declaration` (it names no feature), its core model
`chalicelib.tenancy.model`, and `chalicelib.apps.manifest` binds both to the platform's sections.
Code in `chalicelib` imports those, never this module (tests/unit/test_layers.py checks both).
"""

from __future__ import annotations

from chalicelib.apps.manifest import FILE_KEY as FILE_KEY
from chalicelib.apps.manifest import MANIFEST_ENV as MANIFEST_ENV
from chalicelib.apps.manifest import MANIFEST_FILENAME as MANIFEST_FILENAME
from chalicelib.apps.manifest import SYNTAX_KEY as SYNTAX_KEY
from chalicelib.apps.manifest import AppSpec as AppSpec
from chalicelib.apps.manifest import Manifest as Manifest
from chalicelib.apps.manifest import ManifestError as ManifestError
from chalicelib.apps.manifest import ManifestIssue as ManifestIssue
from chalicelib.apps.manifest import PlatformSpec as PlatformSpec
from chalicelib.apps.manifest import load_manifest as load_manifest
from chalicelib.apps.manifest import parse_manifest as parse_manifest
