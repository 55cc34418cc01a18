"""`integreat events ...`: publish, tail an inbox, and the dead-letter queues."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from chalicelib.apps import Database
from chalicelib.messaging import dlq as dead
from chalicelib.messaging.inbox import read
from chalicelib.messaging.publish import publish
from chalicelib.messaging.section import EVENTS
from chalicelib.settings import get_settings
from chalicelib.tenancy.slugs import validate_slug
from integreat import context
from integreat.commands.common import console, err, operator_url

events_cli = typer.Typer(help="Cross-app events: publish, tail, dead letters.", no_args_is_help=True)
dlq_cli = typer.Typer(help="Dead-letter queues: list, show, redrive, purge.", no_args_is_help=True)
events_cli.add_typer(dlq_cli, name="dlq")

QueueOpt = Annotated[str, typer.Option("--queue", help="events (cross-app) or storage (storage events).")]


def _queue_urls(which: str) -> tuple[str, str]:
    settings = get_settings()
    names = {"events": settings.events_queue, "storage": settings.storage_queue}
    if which not in names:
        err.print("--queue is events or storage")
        raise typer.Exit(2)
    sqs = context.aws_client("sqs")
    name = names[which]
    return sqs.get_queue_url(QueueName=name)["QueueUrl"], sqs.get_queue_url(QueueName=f"{name}-dlq")[
        "QueueUrl"
    ]


@events_cli.command("publish")
def publish_event(
    app: Annotated[str, typer.Option("--app", help="The publishing app (its source is stamped).")],
    event_type: Annotated[
        str, typer.Option("--type", help="A type the app publishes, e.g. church.service.scheduled")
    ],
    data: Annotated[str, typer.Option("--data", help="JSON payload")] = "{}",
    event_id: Annotated[str | None, typer.Option("--id", help="Event id (default: a new UUID)")] = None,
) -> None:
    """Publish one event as `app`, through the same checks as the API.

    Example: integreat events publish --app events --type events.event.published --data '{"title": "Fair"}'
    """
    import uuid

    database = Database(operator_url())
    specs = {slug: EVENTS.of(a) for slug, a in database.registry.all().items() if a.status == "active"}
    sqs = context.aws_client("sqs")
    queue_url = sqs.get_queue_url(QueueName=get_settings().events_queue)["QueueUrl"]
    body = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "type": event_type,
        "data": json.loads(data),
    }
    outcomes = publish(
        validate_slug(app),
        body,
        specs=specs,
        send_batch=lambda e: sqs.send_message_batch(QueueUrl=queue_url, Entries=e),
    )
    database.close()
    for outcome in outcomes:
        console.print(outcome.to_json())
    if any(o.status != "accepted" for o in outcomes):
        raise typer.Exit(1)


@events_cli.command("tail")
def tail(
    app: Annotated[str, typer.Option("--app", help="Whose inbox.")],
    after: Annotated[int, typer.Option("--after", help="Start after this seq.")] = 0,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep waiting for new events.")] = False,
) -> None:
    """Print an app's inbox, oldest first.

    Example: integreat events tail --app church --follow
    """
    database = Database(operator_url())
    try:
        while True:
            for delivery in read(database, validate_slug(app), after, 100):
                event: dict[str, Any] = delivery["event"]
                console.print(
                    f"{delivery['seq']:>6}  {event.get('time')}  {event.get('source')}  {event.get('type')}  {event.get('id')}"
                )
                after = delivery["seq"]
            if not follow:
                return
            time.sleep(1)
    finally:
        database.close()


@dlq_cli.command("list")
def dlq_list(queue: QueueOpt = "events") -> None:
    """Messages that failed 5 times and wait on the dead-letter queue.

    Example: integreat events dlq list --queue events
    """
    _, dlq_url = _queue_urls(queue)
    letters = dead.peek(context.aws_client("sqs"), dlq_url)
    table = Table("message id", "receives", "sent", "body")
    for letter in letters:
        table.add_row(letter.message_id, str(letter.receive_count), letter.sent_at, letter.body[:80])
    console.print(table if letters else f"the {queue} dead-letter queue is empty")


@dlq_cli.command("show")
def dlq_show(message_id: str, queue: QueueOpt = "events") -> None:
    """One dead letter in full.

    Example: integreat events dlq show 059f36b4-87a3-44ab-83d2-661975830a7d
    """
    _, dlq_url = _queue_urls(queue)
    for letter in dead.peek(context.aws_client("sqs"), dlq_url):
        if letter.message_id == message_id:
            console.print_json(letter.body)
            return
    err.print(f"no message {message_id} on the {queue} dead-letter queue")
    raise typer.Exit(1)


@dlq_cli.command("redrive")
def dlq_redrive(
    message_id: Annotated[
        list[str] | None, typer.Argument(help="Only these messages (default: all).")
    ] = None,
    queue: QueueOpt = "events",
) -> None:
    """Move dead letters back to their queue, to be consumed again.

    Example: integreat events dlq redrive --queue events
    """
    queue_url, dlq_url = _queue_urls(queue)
    moved = dead.redrive(
        context.aws_client("sqs"), dlq_url, queue_url, set(message_id) if message_id else None
    )
    console.print(f"moved {moved} message(s) back to the {queue} queue")


@dlq_cli.command("purge")
def dlq_purge(
    queue: QueueOpt = "events",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete every dead letter (asks first: they are gone for good).

    Example: integreat events dlq purge --queue events
    """
    _, dlq_url = _queue_urls(queue)
    if not yes and not typer.confirm(f"Delete every message on the {queue} dead-letter queue?"):
        raise typer.Exit(1)
    dead.purge(context.aws_client("sqs"), dlq_url)
    console.print(f"purged the {queue} dead-letter queue")
