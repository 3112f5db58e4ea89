"""The credit ledger: what a night may have been billed, on disk before each call is sent.

A vendor like People Data Labs bills a matched item every time it is asked (there is no
idempotency key), and may bill a call whose answer the client never read (a timeout, a
reset, a body cut short). `max_credits` can only be a ceiling if every such call is
counted, across retries, crashes and reruns of the same night. So before a call is sent
its worst case (one credit per request in it) is written here and flushed to disk; when
the call ends, what it cost is written (the credits the answer says were billed, or the
whole worst case when the answer was lost). A call with no end line was cut off by a
crash or a kill: it counts at its worst case, and its requests are known, so the next run
records them as "may have been billed" instead of leaving no trace.

The file is JSON lines, one per event, beside the warehouse. A *period* is the night the
budget is for: a nightly run and every retry and resumed run of it share one; a run of
`contacts enrich` on its own uses the UTC date. Lines of earlier periods are
condensed into one total each when a new period opens. No contact data is written: only
request ids (opaque hashes), counts and times.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

KEEP_PERIODS = 90  # totals of earlier periods kept, for the record


@dataclass
class OpenCall:
    """A call written as sent, with no end: cut off by a crash or a kill."""

    call_id: str
    provider: str
    reserved: int
    request_ids: list[str] = field(default_factory=list)
    run_id: str = ""


class CreditLedger:
    """Append-only, flushed to disk on every line; safe to use from several threads."""

    def __init__(self, path: Path, period: str) -> None:
        self.path = path
        self.period = period
        self._lock = threading.Lock()
        self.spent_before = 0          # this period, before this ledger was opened
        self.open_calls: list[OpenCall] = []
        self._compact_and_read()

    # --------------------------------------------------------------- reading ----
    def _compact_and_read(self) -> None:
        lines = []
        if self.path.exists():
            for raw in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    lines.append(json.loads(raw))
                except ValueError:  # a line cut short by a crash mid-write
                    continue
        ours = [e for e in lines if e.get("period") == self.period]
        ended_calls = {(e.get("period"), e.get("call")) for e in lines if e.get("event") == "ended"}
        others: dict[str, int] = {}
        for e in lines:
            if e.get("period") != self.period:
                others[e["period"]] = others.get(e["period"], 0) + _spent(e, ended_calls)
        sent: dict[str, dict] = {e["call"]: e for e in ours if e.get("event") == "sent"}
        ended = {e["call"] for e in ours if e.get("event") == "ended"}
        self.spent_before = sum(e.get("spent", 0) for e in ours if e.get("event") in ("ended", "total"))
        self.spent_before += sum(e["reserved"] for c, e in sent.items() if c not in ended)
        self.open_calls = [OpenCall(c, e["provider"], e["reserved"], list(e.get("requests") or []), e.get("run", ""))
                           for c, e in sent.items() if c not in ended]
        if others and any(e.get("event") != "total" for e in lines if e.get("period") != self.period):
            kept = sorted(others.items())[-KEEP_PERIODS:]
            text = "".join(json.dumps({"period": p, "event": "total", "spent": s}) + "\n" for p, s in kept)
            text += "".join(json.dumps(e) + "\n" for e in ours)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self.path)

    # --------------------------------------------------------------- writing ----
    def _append(self, entry: dict) -> None:
        entry = {"period": self.period, **entry, "at": datetime.now(UTC).isoformat(timespec="seconds")}
        line = json.dumps(entry) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())

    def sent(self, call_id: str, provider: str, reserved: int, request_ids: list[str], run_id: str) -> None:
        """Before the call goes out: its worst case."""
        self._append({"event": "sent", "call": call_id, "run": run_id, "provider": provider, "reserved": reserved,
                      "requests": request_ids})

    def ended(self, call_id: str, spent: int, lost: bool) -> None:
        """When it is over: what it cost (its worst case when the answer was lost)."""
        self._append({"event": "ended", "call": call_id, "spent": spent, "lost": lost})

    def close_open_calls(self) -> list[OpenCall]:
        """End the calls a crash cut off, at their worst case; returns them (their requests
        are recorded as may-have-been-billed by the caller)."""
        calls, self.open_calls = self.open_calls, []
        for call in calls:
            self.ended(call.call_id, call.reserved, lost=True)
        return calls


def _spent(entry: dict, ended_calls: set[tuple]) -> int:
    """What one line of another period adds to that period's total."""
    if entry.get("event") in ("ended", "total"):
        return int(entry.get("spent", 0))
    if entry.get("event") == "sent" and (entry.get("period"), entry.get("call")) not in ended_calls:
        return int(entry.get("reserved", 0))  # cut off: its worst case
    return 0


def utc_day() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")
