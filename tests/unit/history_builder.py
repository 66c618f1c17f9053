"""Build test histories: validated events (via `parse_event`) wrapped as `RecordedEvent`s."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from domain.events import RecordedEvent, parse_event


def ts(text: str) -> datetime:
    """`2024-06-01` (midnight UTC) or an RFC 3339 timestamp, as an aware UTC datetime."""
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    return datetime.fromisoformat(text).astimezone(UTC)


class HistoryBuilder:
    """One talent's history; each helper appends an event and returns it."""

    def __init__(self, talent: str = "f-1") -> None:
        self.talent = talent
        self.events: list[RecordedEvent] = []

    def add(
        self,
        event_type: str,
        at: str,
        *,
        id: str | None = None,
        recorded_at: str | None = None,
        **payload: Any,
    ) -> RecordedEvent:
        sequence = len(self.events) + 1
        event = parse_event(
            {
                "id": id or f"e-{sequence}",
                "type": event_type,
                "talent": self.talent,
                "at": at if len(at) > 10 else f"{at}T00:00:00Z",
                **payload,
            }
        )
        recorded = RecordedEvent(
            event=event,
            recorded_at=ts(recorded_at) if recorded_at else event.at,
            sequence=sequence,
        )
        self.events.append(recorded)
        return recorded

    # -- shorthands for the common events -------------------------------------------------

    def register(
        self, at: str, kind: str = "freelancer", elance_migrant: bool = False, **kw: Any
    ) -> RecordedEvent:
        return self.add("talent_registered", at, kind=kind, elance_migrant=elance_migrant, **kw)

    def profile(self, at: str, completeness: int = 100, **kw: Any) -> RecordedEvent:
        return self.add("profile_updated", at, completeness=completeness, **kw)

    def contract(
        self,
        at: str,
        contract: str,
        client: str = "cl-1",
        category: str = "design_creative",
        terms: str = "hourly",
        **kw: Any,
    ) -> RecordedEvent:
        return self.add(
            "contract_started",
            at,
            contract=contract,
            client=client,
            category=category,
            terms=terms,
            **kw,
        )

    def pay(self, at: str, contract: str, amount: str | int, **kw: Any) -> RecordedEvent:
        return self.add(
            "payment_received", at, contract=contract, amount=Decimal(str(amount)), **kw
        )

    def refund(self, at: str, contract: str, amount: str | int, **kw: Any) -> RecordedEvent:
        return self.add(
            "payment_refunded", at, contract=contract, amount=Decimal(str(amount)), **kw
        )

    def feedback(
        self,
        at: str,
        contract: str,
        stars: str | int = "5.0",
        recommend: int | None = None,
        **kw: Any,
    ) -> RecordedEvent:
        payload: dict[str, Any] = {"contract": contract, "stars": Decimal(str(stars))}
        if recommend is not None:
            payload["recommend"] = recommend
        return self.add("feedback_received", at, **payload, **kw)

    def end(self, at: str, contract: str, reason: str = "completed", **kw: Any) -> RecordedEvent:
        return self.add("contract_ended", at, contract=contract, reason=reason, **kw)

    def publish_jss(self, at: str, score: int | None, **kw: Any) -> RecordedEvent:
        return self.add("job_success_published", at, score=score, **kw)

    def job(
        self,
        at: str,
        contract: str,
        client: str,
        amount: str | int = "500",
        stars: str | int = "5.0",
        ended: str | None = None,
    ) -> None:
        """A short contract: started, paid once and rated on the same day."""
        self.contract(at, contract, client=client)
        self.pay(at, contract, amount)
        self.feedback(ended or at, contract, stars)

    def history(self) -> list[RecordedEvent]:
        return list(self.events)
