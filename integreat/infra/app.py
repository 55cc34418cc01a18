"""Build and synthesize the CDK app for one stage: `integreat synth --stage dev`, and the tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from chalicelib.tenancy.manifest import load_manifest
from integreat.infra.stack import PlatformStack
from integreat.infra.stages import load_stage


class InfraError(Exception):
    """Synthesis cannot run here; the message says what is missing."""


class Synthesized(NamedTuple):
    stack: PlatformStack
    template: dict[str, object]
    directory: Path
    seconds: float
    manifest: Path


@contextlib.contextmanager
def preserved_environ() -> Iterator[None]:
    """`chalice package` imports the app with the stage's environment variables set in this
    process's environment, and leaves them there: restore it, so nothing else sees them."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def synthesize(stage_name: str, outdir: Path, manifest: Path | None = None) -> Synthesized:
    """The stage's stack, synthesized into `outdir` with cdk-nag's AwsSolutions checks applied.
    The manifest is found as every command finds it: `manifest`, else $INTEGREAT_MANIFEST, else
    ./integreat.toml (ManifestError when it is missing or wrong)."""
    declared = load_manifest(manifest)
    path = Path(declared.source).resolve()  # before the chdir below
    stage = load_stage(stage_name, path)
    if shutil.which("node") is None:
        raise InfraError("the CDK needs Node.js (`node` on PATH) to synthesize; install Node.js 22 or newer")
    started = time.perf_counter()
    outdir.mkdir(parents=True, exist_ok=True)
    app = cdk.App(outdir=str(outdir))
    with contextlib.chdir(outdir), preserved_environ():  # the Chalice construct packages into ./chalice.out
        stack = PlatformStack(app, stage, declared, path)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    assembly = app.synth()
    template = assembly.get_stack_by_name(stack.stack_name).template
    return Synthesized(stack, template, outdir, time.perf_counter() - started, path)
