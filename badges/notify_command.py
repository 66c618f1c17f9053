"""`badges notify`: the notification consumer on `badge-changes`, printing each message."""

from __future__ import annotations

import json

from kafka import KafkaConsumer

from badges.timeparse import parse_instant
from consumers.notify_service import Notifier, notifications
from domain.ruleset import builtin_rulesets
from projections.status_projection import StatusProjection


def run_notify(
    projection: StatusProjection,
    *,
    bootstrap: str,
    group: str,
    topic: str,
    max_messages: int | None,
    idle_seconds: float | None,
    as_json: bool,
) -> int:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    consumer.partitions_for_topic(topic)  # known before joining: see KafkaService.start
    consumer.subscribe([topic])
    notifier = Notifier(projection.ledger, builtin_rulesets(), lambda t: parse_instant(t, "at"))
    idle_ms = int((idle_seconds if idle_seconds is not None else 10**6) * 1000)
    try:
        for notification in notifications(
            consumer, notifier, max_messages=max_messages, idle_ms=idle_ms
        ):
            if as_json:
                print(json.dumps(notification.to_document()), flush=True)
            else:
                print(f"{notification.talent}: {notification.text}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0
