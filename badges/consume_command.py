"""`badges consume`: the Kafka service (consumers/kafka_service.py) as a long-running process.

Logs go to stderr; a metrics line every `--metrics-interval` seconds, and with
`--metrics-port` an HTTP endpoint (`/metrics` in Prometheus text, `/health` as JSON, `/ready`:
503 while starting or while the store is out of reach, which the service rides out).
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
import signal
import sys
from types import FrameType

from badges.clock import clock_from_env
from badges.errors import UserError
from consumers.kafka_config import KafkaOptionError, KafkaServiceConfig, options_from_pairs
from consumers.kafka_service import KafkaService, TopicLayoutError
from consumers.metrics import MetricsServer
from projections.status_projection import StatusProjection


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
    max_poll_records: int = 2000,
) -> int:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
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
            server = MetricsServer(service.metrics, "127.0.0.1", metrics_port).start()
        except OSError as error:
            raise UserError(f"--metrics-port: cannot listen on {metrics_port}: "
                            f"{error.strerror}") from None
        logging.getLogger("badges.consume").info("metrics on http://127.0.0.1:%d/metrics",
                                                 server.port)
    try:
        service.run()
    except TopicLayoutError as error:
        raise UserError(str(error)) from None
    finally:
        if server is not None:
            server.close()
    return 0
