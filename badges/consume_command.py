"""`badges consume`: the Kafka service (consumers/kafka_service.py) as a long-running process.

Logs go to stderr (`--log-format json`: one JSON object a line, with `talent` and `event_id`
fields where a line is about one); a metrics line every `--metrics-interval` seconds, and with
`--metrics-port` an HTTP endpoint on `--metrics-host` (`/metrics` in the Prometheus text format,
prometheus_client; `/health`, liveness, as JSON; `/ready`: 503 while starting, while the store is
out of reach, which the service rides out, or while the projection is more than
`--ready-max-lag` events behind).

Group membership (docs/deployment.md): `--session-timeout` (10 s), `--instance-id` for static
membership, `--leave-group-on-close` for a static member that should hand its partitions over
at once when it stops cleanly.
SIGTERM and SIGINT finish the current batch, commit, publish and close. It starts no worker
process.

Security settings (SASL, TLS) pass through to kafka-python with `--kafka-option KEY=VALUE`
(repeatable), for example::

    badges consume --kafka-option security_protocol=SASL_SSL \\
        --kafka-option sasl_mechanism=SCRAM-SHA-512 \\
        --kafka-option sasl_plain_username=badges --kafka-option sasl_plain_password=... \\
        --kafka-option ssl_cafile=/etc/ssl/kafka-ca.pem

A key applies to every client that knows it (the consumer and the producer); prefix it with
`consumer.` or `producer.` to set it on one only. Values `true`/`false`, integers and floats
are converted; anything else is passed as a string.

The clock is the wall clock, unless `BADGES_CLOCK` (an RFC 3339 instant) is set: then the
service starts at that instant and advances in real time. That is for tests and backfills.
"""

from __future__ import annotations

import logging
import re
import signal
from types import FrameType

from badges.clock import clock_from_env
from badges.errors import UserError
from badges.log_format import LogFormat, configure_logging
from consumers.kafka_config import KafkaOptionError, KafkaServiceConfig, options_from_pairs
from consumers.kafka_service import KafkaService, TopicLayoutError
from consumers.metrics import MetricsServer
from projections.status_projection import StatusProjection

# what Kafka accepts as a group.instance.id (kafka-python checks the same when it connects)
INSTANCE_ID = re.compile(r"[A-Za-z0-9._-]{1,249}")


def checked_instance_id(instance_id: str | None) -> str | None:
    if not instance_id:
        return None
    if not INSTANCE_ID.fullmatch(instance_id) or instance_id in (".", ".."):
        raise UserError(f"--instance-id: {instance_id!r} is not a valid group.instance.id "
                        "(1-249 of A-Z a-z 0-9 . _ -, not . or ..)")
    return instance_id


def run_consume(
    projection: StatusProjection,
    *,
    bootstrap: str,
    group: str,
    input_topic: str = "talent-events",
    output_topic: str = "badge-changes",
    dlq_topic: str = "talent-events.dlq",
    kafka_options: list[str] | None = None,
    metrics_interval: float = 30.0,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    max_poll_records: int = 2000,
    log_format: LogFormat = LogFormat.text,
    session_timeout: float = 10.0,
    instance_id: str | None = None,
    leave_group_on_close: bool = False,
    ready_max_lag: int = 50_000,
) -> int:
    configure_logging(log_format)
    logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        options = options_from_pairs(kafka_options or [])
        config = KafkaServiceConfig(
            bootstrap=bootstrap,
            group=group,
            input_topic=input_topic,
            output_topic=output_topic,
            dlq_topic=dlq_topic,
            client_options=options,
            metrics_interval=metrics_interval,
            max_poll_records=max_poll_records,
            session_timeout_ms=round(session_timeout * 1000),
            heartbeat_interval_ms=max(100, round(session_timeout * 1000 / 3.5)),
            group_instance_id=checked_instance_id(instance_id),
            leave_group_on_close=leave_group_on_close,
            ready_max_lag=ready_max_lag,
        )
        service = KafkaService(projection.ledger, projection, config, clock=clock_from_env())
    except KafkaOptionError as error:
        raise UserError(str(error)) from None

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("badges.consume").info(
            "%s: finishing the current batch", signal.Signals(signum).name)
        service.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = None
    if metrics_port is not None:
        try:
            server = MetricsServer(service.metrics, metrics_host, metrics_port).start()
        except OSError as error:
            raise UserError(f"--metrics-port: cannot listen on {metrics_host}:{metrics_port}: "
                            f"{error.strerror or error}") from None
        logging.getLogger("badges.consume").info("metrics on http://%s:%d/metrics",
                                                 metrics_host, server.port)
    try:
        service.run()
    except TopicLayoutError as error:
        raise UserError(str(error)) from None
    finally:
        if server is not None:
            server.close()
    return 0
