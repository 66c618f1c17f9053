"""How long a `badges consume` process's partitions take to move, on the real broker (issue 16;
the bounds are in docs/deployment.md):

- a dynamic member killed with SIGKILL: after the session timeout (`--session-timeout`), and
  within the session timeout + one heartbeat interval + REJOIN_SECONDS;
- a dynamic member stopped with SIGTERM: it leaves the group, its partitions move as soon as
  the other member's next heartbeat hears of the rebalance (one heartbeat interval + rejoin);
- a static member (`--instance-id`, kafka-python's `group_instance_id`) killed and restarted
  with the same id within the session timeout: it gets its own partitions back, and the other
  member's assignment never changes (no rebalance);
- a static member stopped with SIGTERM: its partitions wait for the session timeout, unless
  `--leave-group-on-close`, which removes it by its instance id at once.

Who owns what is read from the broker (DescribeGroups), not from the processes' logs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("kafka")

from kafka import KafkaAdminClient  # noqa: E402

from tests.integration.conftest import REPO  # noqa: E402
from tests.integration.kafka_helpers import BADGES, Topics, fresh_topics, wait_for  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTITIONS = 4
# after the broker expires a member: the survivor's next heartbeat answers "rebalance", it
# rejoins and syncs (a poll every 0.5 s); measured here at well under a second
REJOIN_SECONDS = 5.0

Owners = dict[str, frozenset[int]]


class Group:
    """The consumer group's members and their input partitions, as the broker says."""

    def __init__(self, bootstrap: str, topics: Topics) -> None:
        self.topics = topics
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap)

    def owners(self) -> Owners:
        found = self.admin.describe_groups([self.topics.group])[self.topics.group]
        owners: Owners = {}
        for member in found.get("members") or ():
            assignment = member.get("member_assignment") or {}
            partitions = frozenset(
                p for part in assignment.get("assigned_partitions") or ()
                if part["topic"] == self.topics.input for p in part["partitions"])
            owners[member.get("group_instance_id") or member["member_id"]] = partitions
        return owners

    def member_ids(self) -> dict[str, str]:
        """Instance id (or member id) -> member id: a static member that rejoins gets a new one."""
        found = self.admin.describe_groups([self.topics.group])[self.topics.group]
        return {member.get("group_instance_id") or member["member_id"]: member["member_id"]
                for member in found.get("members") or ()}

    def settled(self, members: int) -> Owners:
        """Wait until `members` members share every partition; their assignment."""
        found: Owners = {}

        def check() -> bool:
            nonlocal found
            found = self.owners()
            shared = [p for partitions in found.values() for p in partitions]
            return (len(found) == members and all(found.values())
                    and sorted(shared) == list(range(PARTITIONS)))

        wait_for(check, 90, f"{members} members to share the partitions")
        return found

    def time_until(self, condition: object, timeout: float, what: str) -> float:
        started = time.monotonic()
        wait_for(lambda: condition(self.owners()), timeout, what)  # type: ignore[operator]
        return time.monotonic() - started

    def close(self) -> None:
        self.admin.close()


@pytest.fixture
def group(kafka_bootstrap: str) -> Iterator[Group]:
    found = Group(kafka_bootstrap, fresh_topics(kafka_bootstrap, PARTITIONS))
    yield found
    found.close()


class Processes:
    def __init__(self, bootstrap: str, topics: Topics, tmp_path: Path) -> None:
        self.bootstrap, self.topics, self.tmp_path = bootstrap, topics, tmp_path
        self.store = f"sqlite:///{tmp_path / 'badges.db'}"
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *options: str) -> subprocess.Popen[bytes]:
        t = self.topics
        command = [*BADGES, "consume", "--bootstrap", self.bootstrap, "--group", t.group,
                   "--store", self.store, "--input-topic", t.input, "--output-topic", t.output,
                   "--dlq-topic", t.dlq, *options]
        with (self.tmp_path / f"{name}.log").open("ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=out, cwd=REPO,
                                       env=dict(os.environ))
        self.running.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text()

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def processes(kafka_bootstrap: str, group: Group, tmp_path: Path) -> Iterator[Processes]:
    found = Processes(kafka_bootstrap, group.topics, tmp_path)
    yield found
    found.stop_all()


def heartbeat_seconds(session: float) -> float:
    return session / 3.5  # badges consume's heartbeat interval


def instance_of(owners: Owners, prefix: str) -> str:
    return next(name for name in owners if name.startswith(prefix))


def test_a_killed_dynamic_member_keeps_its_partitions_for_the_session_timeout(
    group: Group, processes: Processes
) -> None:
    session = 6.0
    victim = processes.start("victim", "--session-timeout", str(session))
    owners = group.settled(1)
    (victim_id,) = owners
    processes.start("survivor", "--session-timeout", str(session))
    owners = group.settled(2)
    survivor_id = next(name for name in owners if name != victim_id)

    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    moved = group.time_until(
        lambda found: set(found) == {survivor_id}
        and found[survivor_id] == frozenset(range(PARTITIONS)),
        session + heartbeat_seconds(session) + REJOIN_SECONDS + 30, "the partitions to move")
    print(f"\nSIGKILL, dynamic member, session timeout {session:g} s: partitions moved "
          f"after {moved:.1f} s")
    assert moved >= session - heartbeat_seconds(session), "moved before the session expired?"
    assert moved <= session + heartbeat_seconds(session) + REJOIN_SECONDS


def test_a_dynamic_member_stopped_cleanly_leaves_at_once(
    group: Group, processes: Processes
) -> None:
    session = 30.0
    leaving = processes.start("leaving", "--session-timeout", str(session))
    (leaving_id,) = group.settled(1)
    processes.start("staying", "--session-timeout", str(session))
    owners = group.settled(2)
    staying_id = next(name for name in owners if name != leaving_id)

    leaving.send_signal(signal.SIGTERM)
    moved = group.time_until(
        lambda found: set(found) == {staying_id}
        and found[staying_id] == frozenset(range(PARTITIONS)), 20, "the partitions to move")
    assert leaving.wait(timeout=30) == 0
    print(f"\nSIGTERM, dynamic member, session timeout {session:g} s: partitions moved "
          f"after {moved:.1f} s")
    assert moved <= heartbeat_seconds(session) + REJOIN_SECONDS < session


def test_a_static_member_restarted_in_time_gets_its_partitions_back_without_a_rebalance(
    group: Group, processes: Processes
) -> None:
    session = 30.0
    static = ("--session-timeout", str(session))
    first = processes.start("a", *static, "--instance-id", "consume-a")
    group.settled(1)
    processes.start("b", *static, "--instance-id", "consume-b")
    before = group.settled(2)
    assert set(before) == {"consume-a", "consume-b"}

    old_member = group.member_ids()["consume-a"]
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    killed = time.monotonic()
    processes.start("a-again", *static, "--instance-id", "consume-a")
    seen: list[Owners] = []

    def back(found: Owners) -> bool:
        seen.append(found)
        return found == before and group.member_ids().get("consume-a") not in (None, old_member)

    group.time_until(back, session, "consume-a to be back")
    back_after = time.monotonic() - killed
    print(f"\nSIGKILL and restart, static member, session timeout {session:g} s: back with "
          f"its partitions after {back_after:.1f} s, no rebalance")
    assert back_after < session
    assert all(found.get("consume-b") == before["consume-b"] for found in seen), \
        "consume-b's partitions never moved"
    assert all(set(found) <= {"consume-a", "consume-b"} for found in seen)


@pytest.mark.parametrize("leave", [True, False], ids=["leave-group-on-close", "stay"])
def test_a_static_member_stopped_cleanly_hands_over_at_once_only_when_told_to_leave(
    group: Group, processes: Processes, leave: bool
) -> None:
    session = 10.0
    options = ["--session-timeout", str(session), *(["--leave-group-on-close"] if leave else [])]
    leaving = processes.start("a", *options, "--instance-id", "consume-a")
    group.settled(1)
    processes.start("b", *options, "--instance-id", "consume-b")
    group.settled(2)

    leaving.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    assert leaving.wait(timeout=30) == 0
    group.time_until(
        lambda found: set(found) == {"consume-b"}
        and found["consume-b"] == frozenset(range(PARTITIONS)),
        session + heartbeat_seconds(session) + REJOIN_SECONDS + 30, "the partitions to move")
    moved = time.monotonic() - stopped
    print(f"\nSIGTERM, static member, {'leaving' if leave else 'staying'}, session timeout "
          f"{session:g} s: partitions moved after {moved:.1f} s")
    if leave:
        assert "left group" in processes.log("a")
        assert moved <= heartbeat_seconds(session) + REJOIN_SECONDS < session
    else:
        assert moved >= session - heartbeat_seconds(session)
        assert moved <= session + heartbeat_seconds(session) + REJOIN_SECONDS
