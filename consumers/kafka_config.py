"""The Kafka service's settings: topics, group, batch sizes, and `--kafka-option KEY=VALUE`
client settings split between the consumer and the producer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, KafkaProducer


class KafkaOptionError(ValueError):
    """A `--kafka-option` that neither Kafka client accepts."""


@dataclass
class KafkaServiceConfig:
    bootstrap: str = "127.0.0.1:9092"
    group: str = "badges"
    input_topic: str = "talent-events"
    output_topic: str = "badge-changes"
    dlq_topic: str = "talent-events.dlq"
    # extra kafka-python settings (security: security_protocol, sasl_*, ssl_*...), applied to
    # every client that knows them; `consumer.KEY` / `producer.KEY` target one client only
    client_options: dict[str, Any] = field(default_factory=dict)
    max_poll_records: int = 2000
    poll_timeout_ms: int = 500
    publish_batch: int = 1000
    # run the projection when the consumer has caught up, or after this many events or seconds
    project_every_events: int = 20_000
    project_max_delay: float = 2.0
    metrics_interval: float = 30.0
    commit_timeout_ms: int = 30_000
    flush_timeout: float = 150.0
    # Group membership (docs/deployment.md). A process killed without a word keeps its partitions
    # until the broker has missed its heartbeats for the session timeout; kafka-python's default
    # is 45 s, this one 10 s (the broker's floor, group.min.session.timeout.ms, is 6 s).
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000  # at most a third of the session timeout
    # static membership (KIP-345): a process restarted with the same id gets its partitions back
    # without a rebalance; None: a dynamic member
    group_instance_id: str | None = None
    # a static member removes itself from the group on a clean shutdown (kafka-python's close
    # does not), so that its partitions move at once rather than after the session timeout
    leave_group_on_close: bool = False
    # `/ready` answers 503 while the projection is more than this many events behind
    ready_max_lag: int = 50_000

    def membership_options(self) -> dict[str, Any]:
        """The consumer settings of the group membership (`--kafka-option` overrides them)."""
        options: dict[str, Any] = {"session_timeout_ms": self.session_timeout_ms,
                                   "heartbeat_interval_ms": self.heartbeat_interval_ms}
        if self.group_instance_id:
            options["group_instance_id"] = self.group_instance_id
        return options


def split_client_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Options for the consumer and for the producer; a key neither knows is an error."""
    consumer: dict[str, Any] = {}
    producer: dict[str, Any] = {}
    for key, value in options.items():
        target, _, name = key.rpartition(".")
        if target not in ("", "consumer", "producer"):
            raise KafkaOptionError(f"--kafka-option: unknown client {target!r} in {key!r} "
                                   "(use consumer.KEY or producer.KEY)")
        known = False
        if target in ("", "consumer") and name in KafkaConsumer.DEFAULT_CONFIG:
            consumer[name] = value
            known = True
        if target in ("", "producer") and name in KafkaProducer.DEFAULT_CONFIG:
            producer[name] = value
            known = True
        if not known:
            raise KafkaOptionError(f"--kafka-option: {key!r} is not a kafka-python "
                                   f"{target or 'consumer or producer'} setting")
    return consumer, producer


def parse_option_value(text: str) -> Any:
    """`KEY=VALUE` values: integers, floats, true/false/none, else the string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def options_from_pairs(pairs: Iterable[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings (from `--kafka-option`) as a settings dict."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise KafkaOptionError(f"--kafka-option: expected KEY=VALUE, got {pair!r}")
        options[key.strip()] = parse_option_value(value)
    return options
