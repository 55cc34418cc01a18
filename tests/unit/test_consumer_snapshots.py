"""Both consumers decode the registry once per snapshot, not once per batch (issue 20), and see
every reload: the registry hands back the same mapping until it reloads, and a new one after."""

from __future__ import annotations

from chalicelib.messaging import consumer as messaging
from chalicelib.storage import consumer as storage
from chalicelib.tenancy.registry import ACTIVE, REMOVED, AppRecord


def apps(*records: AppRecord) -> dict[str, AppRecord]:
    return {r.slug: r for r in records}


CHURCH = AppRecord("church", ACTIVE, "Church", iam_role_id="AROACHURCH")
EVENTS = AppRecord("events", ACTIVE, "Events", iam_role_id="AROAEVENTS")


def test_the_same_registry_mapping_is_decoded_once() -> None:
    held = apps(CHURCH, EVENTS)

    assert messaging._snapshot(held) is messaging._snapshot(held)
    assert storage._snapshot(held, "bucket") is storage._snapshot(held, "bucket")


def test_a_reload_is_seen_at_the_next_batch() -> None:
    before = apps(CHURCH, EVENTS)
    after = apps(CHURCH, EVENTS._replace(status=REMOVED))
    messaging._snapshot(before)
    storage._snapshot(before, "bucket")

    assert set(messaging._snapshot(after).specs) == {"church"}
    assert dict(messaging._snapshot(after).role_apps) == {"AROACHURCH": "church"}
    assert set(storage._snapshot(after, "bucket").storage) == {"church"}


def test_another_shared_bucket_is_another_placement() -> None:
    held = apps(CHURCH)

    assert storage._snapshot(held, "one").buckets == {"church": "one"}
    assert storage._snapshot(held, "two").buckets == {"church": "two"}


def test_a_new_processor_does_not_evict_the_registrys_entry() -> None:
    held = apps(CHURCH)
    first = messaging._snapshot(held)
    messaging.RoutingProcessor(messaging.MessagingDeps(db=None, api_sender_id=None))  # type: ignore[arg-type]

    assert messaging._snapshot(held) is first
