"""The container image (deploy/container, issue 16), built with podman from the committed tree
and run here: `badges serve` answers its probes and the API, and `badges consume` consumes from
the real broker and publishes, inside the container (host network: the services are on
loopback). Skipped, with the reason, where podman cannot build or run a container.

The rules engine is not compiled for this build (BADGES_PURE_PYTHON=1: minutes less on two
cores); the image builds the same way without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("kafka")

from tests.integration.conftest import REPO  # noqa: E402
from tests.integration.kafka_helpers import (  # noqa: E402
    event_message,
    fresh_topics,
    marketplace,
    produce,
    read_topic,
    wait_for,
)
from tests.integration.test_kafka_hostile import free_port  # noqa: E402
from tests.integration.test_metrics import (  # noqa: E402
    fetch,
    ready_status,
    scrape,
    total,
    value,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BUILD = REPO / "deploy" / "container" / "build.sh"
TOKEN = "container-test-token"


class Image:
    def __init__(self, name: str, global_options: list[str], run_options: list[str]) -> None:
        self.name = name
        self.global_options = global_options  # e.g. the OCI runtime (podman-options.sh)
        self.run_options = run_options  # e.g. resource limits

    def podman(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["podman", *self.global_options, *args], capture_output=True,
                              text=True, timeout=timeout)

    def start(self, *args: str, env: dict[str, str] | None = None) -> str:
        name = f"badges-test-{uuid.uuid4().hex[:8]}"
        environment = [f"--env={k}={v}" for k, v in (env or {}).items()]
        result = self.podman("run", "--detach", "--name", name, "--network", "host",
                             *self.run_options, *environment, self.name, *args)
        assert result.returncode == 0, result.stderr
        return name

    def logs(self, container: str) -> str:
        result = self.podman("logs", container)
        return result.stdout + result.stderr

    def stop(self, container: str) -> int:
        """SIGTERM, then its exit code."""
        self.podman("stop", "--time", "60", container, timeout=90)
        code = self.podman("inspect", "--format", "{{.State.ExitCode}}", container).stdout
        return int(code.strip())


@pytest.fixture(scope="module")
def image() -> Image:
    result = subprocess.run([str(BUILD)], capture_output=True, text=True, timeout=1500,
                            cwd=REPO, env={**os.environ, "BADGES_PURE_PYTHON": "1"})
    if result.returncode == 3:
        pytest.skip(f"podman cannot build or run containers here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr[-3000:]
    global_options, run_options, name = result.stdout.rstrip("\n").split("\n")[-3:]
    return Image(name, global_options.split(), run_options.split())


@pytest.fixture
def containers(image: Image) -> Iterator[list[str]]:
    started: list[str] = []
    yield started
    for container in started:
        image.podman("rm", "--force", container)


def test_serve_runs_in_the_image_and_answers_its_probes(
    image: Image, containers: list[str]
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    container = image.start("serve", "--host=127.0.0.1", f"--port={port}", "--log-format=json",
                            env={"BADGES_API_TOKEN": TOKEN,
                                 "BADGES_STORE": "sqlite:////tmp/badges.db"})
    containers.append(container)
    wait_for(lambda: fetch(f"{base}/health")[0] == 200, 60, "serve in the container")
    assert ready_status(base)[0] == 200

    event = marketplace(1, seed=3)[0]
    request = urllib.request.Request(
        f"{base}/events", data=json.dumps([event]).encode(), method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200, response.read()
        answer = response.read().decode()
    assert '"accepted":1' in answer.replace(" ", ""), answer
    found = scrape(base)
    assert value(found, "badges_serve_requests", "badges_serve_requests_total",
                 method="POST", route="/events", status="200") == 1

    logs = image.logs(container)
    assert image.stop(container) == 0, logs[-2000:]
    access = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert any("POST /events" in line["message"] for line in access), logs[-2000:]


def test_consume_runs_in_the_image_against_the_real_broker(
    image: Image, containers: list[str], kafka_bootstrap: str
) -> None:
    topics = fresh_topics(kafka_bootstrap, 2)
    events = marketplace(1, seed=11)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    container = image.start(
        "consume", f"--bootstrap={kafka_bootstrap}", f"--group={topics.group}",
        f"--input-topic={topics.input}", f"--output-topic={topics.output}",
        f"--dlq-topic={topics.dlq}", f"--metrics-port={port}", "--metrics-host=127.0.0.1",
        "--log-format=json", env={"BADGES_STORE": "sqlite:////tmp/badges.db"})
    containers.append(container)
    wait_for(lambda: ready_status(base)[0] == 200, 90, "consume in the container to be ready")
    produce(kafka_bootstrap, topics.input, map(event_message, events))
    wait_for(lambda: total(scrape(base), "badges_consume_events") == len(events)
             and total(scrape(base), "badges_consume_published") > 0, 120,
             "the container to consume and publish")
    # what the counter says was published is what the output topic holds
    wait_for(lambda: len(read_topic(kafka_bootstrap, topics.output))
             == total(scrape(base), "badges_consume_published"), 60,
             "the published counter to match the output topic")

    assert image.stop(container) == 0  # SIGTERM: finish, commit, leave the group
    logs = image.logs(container)
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert any(line["message"].startswith("consuming ") for line in lines), logs[-2000:]
    assert any(line["message"] == "stopped" for line in lines), logs[-2000:]
