"""The custom resource's isComplete half (chalicelib/provisioning/deploy.py `advance`) on an
in-memory world: 1,000 apps are applied in chunks across calls, each call within its budget, a
call resumes where the request stopped, a failure names its apps in a bounded message, and the
answer carries nothing per app. No IO: the steps are a fake, the clock is a counter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from benchmarks.scale_synth import manifest_text
from chalicelib.apps.manifest import AppSpec, Manifest, parse_manifest
from chalicelib.provisioning.database import SyncReport
from chalicelib.provisioning.deploy import (
    CHUNK,
    MAX_MESSAGE,
    DeployError,
    advance,
    provision_complete,
    write_parameters,
)

SECONDS_PER_APP = 3.2  # the slowest first sync measured: 53 min for 1,000 apps
BUDGET = 600.0  # what a 900 s call keeps after RESERVE_SECONDS


class World:
    """What the steps change: the apps applied (in order), the progress of each request, the
    client ids published, the integrations synced; `clock` advances with every app applied."""

    def __init__(self, manifest: Manifest, failing: frozenset[str] = frozenset()) -> None:
        self._manifest = manifest
        self.failing = failing
        self.applied: list[str] = []
        self.progress: dict[str, int] = {}
        self.published: list[str] = []
        self.finished = 0
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def manifest(self) -> Manifest:
        return self._manifest

    def done(self, request: str) -> int:
        return self.progress.get(request, 0)

    def record(self, request: str, done: int) -> None:
        self.progress = {request: done}  # one parameter: the latest request's

    def sync(self, apps: Sequence[AppSpec]) -> SyncReport:
        self.now += SECONDS_PER_APP * len(apps)
        failed = {a.slug: "identity: LimitExceededException" for a in apps if a.slug in self.failing}
        self.applied += [a.slug for a in apps if a.slug not in failed]
        return SyncReport(active=[a.slug for a in apps if a.slug not in failed], failed=failed)

    def publish(self, slugs: Sequence[str]) -> None:
        self.published += slugs

    def finish(self, manifest: Manifest) -> None:
        self.finished += 1


@pytest.fixture(scope="module")
def thousand() -> Manifest:
    return parse_manifest(manifest_text(1000), "1,000 apps")


def _calls(world: World, request: str) -> list[dict[str, Any]]:
    """isComplete as the waiter calls it: again and again until it answers IsComplete."""
    answers: list[dict[str, Any]] = []
    while not answers or not answers[-1]["IsComplete"]:
        assert len(answers) < 50, "never completes"
        started = world.now
        answers.append(dict(advance(world, request, started + BUDGET, world.clock)))
        assert world.now - started <= BUDGET + CHUNK * SECONDS_PER_APP  # never past the budget's chunk
    return answers


def test_a_thousand_apps_are_applied_in_chunks_across_calls_within_the_hour(thousand: Manifest) -> None:
    world = World(thousand)
    answers = _calls(world, "request-1")
    assert world.applied == list(thousand.slugs)  # each app once, in manifest order
    assert world.published == list(thousand.slugs)
    assert world.finished == 1
    assert len(answers) == 5  # 3,200 s of work: chunks start for 600 s, so 640 s (200 apps) a call
    assert all(a == {"IsComplete": False} for a in answers[:-1])  # no Data until complete
    assert answers[-1] == {"IsComplete": True, "Data": {"Apps": "1000"}}
    waits = 10 * (len(answers) - 1)  # integreat/infra/provisioning.py QUERY_INTERVAL
    assert world.now + waits < 3600  # CloudFormation's hour for a custom resource


def test_a_new_request_starts_again_and_a_finished_one_only_completes(thousand: Manifest) -> None:
    world = World(thousand)
    world.progress = {"an-earlier-request": 600}
    advance(world, "request-2", world.now + BUDGET, world.clock)
    assert world.applied[0] == "app0000"
    world.progress = {"request-3": 1000}  # every app applied already in this request
    world.applied.clear()
    assert advance(world, "request-3", world.now + BUDGET, world.clock)["IsComplete"] is True
    assert world.applied == []


def test_a_failed_app_fails_the_deploy_naming_it_in_a_bounded_message(thousand: Manifest) -> None:
    world = World(thousand, failing=frozenset({"app0003", "app0011"}))
    with pytest.raises(
        DeployError, match=r"failed for 2 of 1000 apps: app0003: identity: .*; app0011"
    ) as failed:
        advance(world, "request-4", float("inf"), world.clock)
    assert world.finished == 0
    world = World(thousand, failing=frozenset(thousand.slugs))
    with pytest.raises(DeployError) as failed:
        advance(world, "request-5", float("inf"), world.clock)
    assert len(str(failed.value)) <= MAX_MESSAGE  # CloudFormation's answer holds 4,096 bytes


def test_delete_completes_at_once() -> None:
    event = {"RequestType": "Delete", "RequestId": "r", "ResourceProperties": {}}
    assert provision_complete(event, None) == {"IsComplete": True}


class Parameters:
    """SSM's GetParameters and PutParameter, in memory."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = dict(values)
        self.puts: list[str] = []

    def get_parameters(self, Names: list[str]) -> dict[str, Any]:
        assert len(Names) <= 10
        return {"Parameters": [{"Name": n, "Value": self.values[n]} for n in Names if n in self.values]}

    def put_parameter(self, **kwargs: Any) -> None:
        assert (kwargs["Type"], kwargs["Tier"], kwargs["Overwrite"]) == ("String", "Standard", True)
        self.values[kwargs["Name"]] = kwargs["Value"]
        self.puts.append(kwargs["Name"])


def test_client_ids_are_written_only_where_they_changed() -> None:
    wanted = {f"/integreat/prod/apps/app{i:04d}/client-id": f"client{i}" for i in range(25)}
    ssm = Parameters({**wanted, "/integreat/prod/apps/app0007/client-id": "an-older-client"})
    del ssm.values["/integreat/prod/apps/app0020/client-id"]
    write_parameters(ssm, wanted)
    assert ssm.values == wanted
    assert ssm.puts == ["/integreat/prod/apps/app0007/client-id", "/integreat/prod/apps/app0020/client-id"]
    ssm.puts.clear()
    write_parameters(ssm, wanted)
    assert ssm.puts == []
