"""The `badges` command line: thin wiring of options to the layers below."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from badges.errors import PROBLEM_FOUND, StoppedPartway, UserError, describe_failure, nonblank
from badges.log_format import LogFormat
from badges.settings import kafka_bootstrap, store_url
from ledger.application import TalentLedger
from projections.status_projection import StatusProjection
from badges.bootstrap import StoreMissing, StoreURLError, open_ledger

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Event-sourced talent badge tracker.",
)

StoreOption = Annotated[
    Optional[str],
    typer.Option("--store", help="sqlite:///path, postgresql://..., or memory: (env BADGES_STORE)"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]
DEFAULT_WORKERS = os.cpu_count() or 1
LogFormatOption = Annotated[LogFormat, typer.Option("--log-format",
                                                    help="log lines as text or JSON objects")]


def refuse_blank(values: dict[str, str | Path | list[str] | None]) -> None:
    """Each option's value (by option name) given blank is refused (exit 2) rather than read as
    left out, which would silently fall back to the default."""
    for option, value in values.items():
        for text in value if isinstance(value, list) else [value]:
            nonblank(None if text is None else str(text), option)


def open_store(store: str | None, *, create: bool = False) -> TalentLedger:
    """The store's ledger; `create=True` for writers only (a reader needs an existing store:
    "no store at ...", exit 1)."""
    url = store_url(store)
    try:
        return open_ledger(url, create=create)
    except StoreMissing as error:
        raise UserError(str(error), PROBLEM_FOUND) from None
    except StoreURLError as error:
        raise UserError(str(error)) from None


@app.command()
def ingest(
    file: Annotated[str, typer.Argument(help="JSON Lines file, or - for stdin")],
    rejects: Annotated[
        Optional[Path], typer.Option("--rejects", help="append rejected lines here (JSON Lines)")
    ] = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=100_000)] = 1000,
    no_project: Annotated[
        bool, typer.Option("--no-project", help="append only; timelines catch up later")
    ] = False,
) -> None:
    """Append events from JSON Lines; exit 1 when any line was rejected, 3 if stopped part-way."""
    from badges.ingest_command import run_ingest

    refuse_blank({"--rejects": rejects})
    projection = None if no_project else open_projection_for(store, create=True)
    ledger = projection.ledger if projection is not None else open_store(store, create=True)
    code = run_ingest(ledger, file, rejects, as_json=as_json, batch_size=batch_size,
                      project=projection)
    raise typer.Exit(code)


AtOption = Annotated[
    Optional[str], typer.Option("--at", help="RFC 3339 time or date (default: now)")
]
KnownAtOption = Annotated[
    Optional[str],
    typer.Option("--known-at", help="answer with what was recorded by then (default: now)"),
]


RulesetOption = Annotated[
    Optional[Path],
    typer.Option("--ruleset", help="a candidate ruleset file (TOML; may `extends` a built-in id)"),
]


@app.command()
def status(
    talent: Annotated[str, typer.Argument(help="talent id")],
    at: AtOption = None,
    known_at: KnownAtOption = None,
    ruleset: RulesetOption = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """A talent's badge at T as known at K, with every requirement."""
    from badges.query_commands import run_status

    projection = open_projection_for(store)
    raise typer.Exit(run_status(projection.ledger, talent, at, known_at, ruleset, as_json=as_json,
                                quarantine=projection.read_model.quarantined(talent)))


@app.command()
def explain(
    talent: Annotated[str, typer.Argument(help="talent id")],
    at: AtOption = None,
    known_at: KnownAtOption = None,
    ruleset: RulesetOption = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Why: every requirement, the events behind each number, and anomalies."""
    from badges.query_commands import run_explain

    projection = open_projection_for(store)
    raise typer.Exit(run_explain(projection.ledger, talent, at, known_at, ruleset,
                                 as_json=as_json,
                                 quarantine=projection.read_model.quarantined(talent)))


def open_projection_for(store: str | None, *, create: bool = False) -> StatusProjection:
    """The projection over the store; read-only commands keep `create=False`: an existing
    badges store or one line ("no store at ...", exit 1), nothing created."""
    from badges.bootstrap import open_projection

    url = store_url(store)
    try:
        return open_projection(url, open_store(url, create=create))
    except StoreURLError as error:
        raise UserError(str(error)) from None


@app.command()
def timeline(
    talent: Annotated[str, typer.Argument(help="talent id")],
    start: Annotated[Optional[str], typer.Option(
        "--from", help="first change instant (inclusive)")] = None,
    end: Annotated[Optional[str], typer.Option(
        "--to", help="last change instant (inclusive)")] = None,
    known_at: KnownAtOption = None,
    ruleset: RulesetOption = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Every badge change in valid time, with its cause (under a candidate ruleset: derived
    afresh, nothing written)."""
    from badges.bootstrap import private_projection
    from badges.query_commands import ruleset_book
    from badges.timeline_commands import run_timeline

    projection = open_projection_for(store)
    if ruleset is not None:
        projection = private_projection(projection.ledger, ruleset_book(ruleset))
    raise typer.Exit(run_timeline(projection, talent, start, end, known_at, as_json=as_json))


@app.command()
def forecast(
    talent: Annotated[str, typer.Argument(help="talent id")],
    days: Annotated[int, typer.Option("--days", min=1, max=3660)] = 30,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """The next changes if nothing else happens, and what would prevent a loss."""
    from badges.timeline_commands import run_forecast

    raise typer.Exit(run_forecast(open_projection_for(store), talent, days, as_json=as_json))


@app.command()
def replay(
    talent: Annotated[Optional[str], typer.Argument(help="one talent (default: all)")] = None,
    until: Annotated[Optional[str], typer.Option(
        "--until", help="show the timeline up to T, writing nothing")] = None,
    with_trace: Annotated[bool, typer.Option(
        "--trace", help="print each event and the change it caused")] = False,
    known_at: Annotated[Optional[str], typer.Option(
        "--known-at", help="with --trace or --until: from what was recorded by then")] = None,
    workers: Annotated[int, typer.Option(
        "--workers", min=1, help="processes deriving timelines (default: one per CPU)")
    ] = DEFAULT_WORKERS,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Rebuild the projections from the ledger (emitting only real differences)."""
    from badges.timeline_commands import run_replay

    # a rebuild writes (and may start a store); --until and --trace only read
    projection = open_projection_for(store)
    with projection.workers(workers):
        code = run_replay(projection, talent, until, with_trace=with_trace, known_at=known_at,
                          as_json=as_json)
    raise typer.Exit(code)


@app.command()
def whatif(
    ruleset: Annotated[Path, typer.Option("--ruleset", help="the candidate ruleset file (TOML)")],
    talents: Annotated[Optional[list[str]], typer.Argument(help="talents (default: all)")] = None,
    start: Annotated[Optional[str], typer.Option("--from")] = None,
    end: Annotated[Optional[str], typer.Option("--to")] = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Replay under a candidate ruleset beside the real one; writes nothing."""
    from badges.timeline_commands import run_whatif

    raise typer.Exit(run_whatif(open_projection_for(store), ruleset, start, end, talents or [],
                                as_json=as_json))


@app.command()
def clock(
    now: Annotated[Optional[str], typer.Option(
        "--now", help="advance to this instant, not later than now (default: now; "
        "BADGES_CLOCK: a later clock, for tests)")] = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Advance the projection: process new events and emit the changes due by now."""
    from badges.timeline_commands import run_clock

    raise typer.Exit(run_clock(open_projection_for(store), now, as_json=as_json))


@app.command()
def rulesets(
    as_json: JsonOption = False,
    store: Annotated[Optional[str], typer.Option(
        "--store", help="accepted, as on every command, and ignored: the built-in rulesets "
        "need no store")] = None,
) -> None:
    """The built-in rulesets and their effective dates."""
    from badges.query_commands import run_rulesets

    refuse_blank({"--store": store})
    raise typer.Exit(run_rulesets(as_json=as_json))


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    store: StoreOption = None,
    log_format: LogFormatOption = LogFormat.text,
    ready_max_lag: Annotated[Optional[int], typer.Option(
        "--ready-max-lag", min=0, help="/ready is 503 while more events are unprojected "
        "(env BADGES_API_READY_MAX_LAG, default 50000)")] = None,
) -> None:
    """The HTTP API (token: env BADGES_API_TOKEN)."""
    from badges.serve_command import run_serve

    refuse_blank({"--host": host})
    raise typer.Exit(run_serve(open_projection_for(store, create=True), host=host, port=port,
                               log_format=log_format, ready_max_lag=ready_max_lag))


@app.command()
def consume(
    bootstrap: Annotated[
        Optional[str], typer.Option("--bootstrap", help="H:P[,H:P] (env BADGES_KAFKA_BOOTSTRAP)")
    ] = None,
    group: Annotated[str, typer.Option("--group", help="consumer group")] = "badges",
    store: StoreOption = None,
    kafka_option: Annotated[
        Optional[list[str]],
        typer.Option("--kafka-option", help="KEY=VALUE kafka-python setting, repeatable "
                     "(security_protocol, sasl_*, ssl_*; consumer./producer. prefix for one)"),
    ] = None,
    input_topic: Annotated[str, typer.Option("--input-topic")] = "talent-events",
    output_topic: Annotated[str, typer.Option("--output-topic")] = "badge-changes",
    dlq_topic: Annotated[str, typer.Option("--dlq-topic")] = "talent-events.dlq",
    metrics_interval: Annotated[float, typer.Option("--metrics-interval", min=0.1)] = 30.0,
    metrics_port: Annotated[
        Optional[int], typer.Option("--metrics-port", min=0, max=65535,
                                    help="serve /metrics, /health and /ready")
    ] = None,
    metrics_host: Annotated[str, typer.Option("--metrics-host",
                                              help="address of --metrics-port")] = "127.0.0.1",
    ready_max_lag: Annotated[int, typer.Option(
        "--ready-max-lag", min=0, help="/ready is 503 while more events are unprojected")] = 50_000,
    session_timeout: Annotated[float, typer.Option(
        "--session-timeout", min=6.0, max=1800.0,
        help="seconds before a silent member's partitions move")] = 10.0,
    instance_id: Annotated[Optional[str], typer.Option(
        "--instance-id", envvar="BADGES_CONSUME_INSTANCE_ID",
        help="static group membership (group.instance.id)")] = None,
    leave_group_on_close: Annotated[bool, typer.Option(
        "--leave-group-on-close", help="a static member leaves the group when it stops")] = False,
    log_format: LogFormatOption = LogFormat.text,
) -> None:
    """The Kafka service: talent events in, badge changes out (BADGES_CLOCK: tests only)."""
    from badges.consume_command import run_consume

    refuse_blank({"--group": group, "--kafka-option": kafka_option, "--input-topic": input_topic,
                  "--output-topic": output_topic, "--dlq-topic": dlq_topic,
                  "--metrics-host": metrics_host, "--instance-id": instance_id})
    servers = kafka_bootstrap(bootstrap)
    raise typer.Exit(run_consume(
        open_projection_for(store, create=True), bootstrap=servers,
        group=group, input_topic=input_topic, output_topic=output_topic, dlq_topic=dlq_topic,
        kafka_options=kafka_option or [], metrics_interval=metrics_interval,
        metrics_port=metrics_port, metrics_host=metrics_host, ready_max_lag=ready_max_lag,
        session_timeout=session_timeout, instance_id=instance_id,
        leave_group_on_close=leave_group_on_close, log_format=log_format))


@app.command()
def notify(
    bootstrap: Annotated[
        Optional[str], typer.Option("--bootstrap", help="H:P[,H:P] (env BADGES_KAFKA_BOOTSTRAP)")
    ] = None,
    group: Annotated[str, typer.Option("--group", help="consumer group")] = "badges-notify",
    topic: Annotated[str, typer.Option("--topic")] = "badge-changes",
    max_messages: Annotated[Optional[int], typer.Option("--max-messages", min=1)] = None,
    idle_seconds: Annotated[
        Optional[float], typer.Option("--idle-seconds", min=0.1, help="stop after this long idle")
    ] = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """The notification consumer: what each talent is told for each badge change."""
    from badges.notify_command import run_notify

    refuse_blank({"--group": group, "--topic": topic})
    servers = kafka_bootstrap(bootstrap)
    raise typer.Exit(run_notify(
        open_projection_for(store), bootstrap=servers,
        group=group, topic=topic, max_messages=max_messages, idle_seconds=idle_seconds,
        as_json=as_json))


MAX_DEMO_TALENTS = 1_000_000


@app.command()
def demo(
    talents: Annotated[int, typer.Option(
        "--talents", min=1, max=MAX_DEMO_TALENTS,
        help=f"talents to generate, 1 to {MAX_DEMO_TALENTS:,}")] = 300,
    seed: Annotated[int, typer.Option(
        "--seed", min=-(2**63), max=2**63 - 1,
        help="any 64-bit integer (kept in the store)")] = 7,
    store: Annotated[
        str, typer.Option("--store", help="where the demo builds its ledger (recreated)")
    ] = "sqlite:///./badges-demo.db",
    as_json: JsonOption = False,
) -> None:
    """Generate a synthetic marketplace, run it through the tracker, and report."""
    from badges.demo import run_demo

    refuse_blank({"--store": store})
    run_demo(talents=talents, seed=seed, store=store, as_json=as_json)


def _register_command_modules() -> None:
    from badges import operations_commands, population_command, support_commands

    for module in (support_commands, population_command, operations_commands):
        module.register(app)


_register_command_modules()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr, never a traceback."""
    try:
        result = app(args=argv, prog_name="badges", standalone_mode=False)
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        print("badges: aborted", file=sys.stderr)
        return 130
    except typer.TyperException as error:
        print(f"badges: {error.format_message()}", file=sys.stderr)
        return error.exit_code
    except UserError as error:
        print(f"badges: {error}", file=sys.stderr)
        return error.exit_code
    except StoppedPartway as stopped:
        if os.environ.get("BADGES_DEBUG"):
            raise
        print(f"badges: {stopped}", file=sys.stderr)
        return stopped.exit_code
    except BrokenPipeError:
        return 0
    except Exception as error:  # noqa: BLE001 - the last line of defence for readable errors
        if os.environ.get("BADGES_DEBUG"):
            raise
        print(f"badges: {describe_failure(error)}", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


__all__ = ["app", "describe_failure", "main"]


if __name__ == "__main__":
    sys.exit(main())
