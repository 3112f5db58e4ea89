"""The Mailchimp audience sync against the Mailchimp emulator on loopback.

Each test writes what the nightly run leaves for the sync (a warehouse holding
exports.segment_catalog and exports.campaign_contact_status, and an export folder with
manifest.json, the segments' Parquet files and suppressions.csv), so every transition
(a new member, a change, a leaver, an opt-out, a suppression, an erasure) is set up in a
few lines; the real nightly wiring is in test_unattended.py.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch.audience_sync import MailchimpError, run_sync, state_path, subscriber_hash
from batch.console import print_sync_result
from ingestion.settings import REPO_ROOT, Settings
from tooling.mailchimp_emulator import API_KEY, LIST_ID, MailchimpEmulator, Member

SEGMENTS = {"region_north_america": "North America", "enterprise_decision_makers": "enterprise_decision_makers"}


def person(i: int) -> dict[str, str]:
    return {"contact_id": f"ct_{i:04d}", "email_address": f"Person.{i}@Example-{i % 7}.com",
            "first_name": f"First{i}", "last_name": f"Last{i}"}


class Night:
    """What one night's export leaves: members per segment, contact statuses, suppressions."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.members: dict[str, list[dict]] = {s: [] for s in SEGMENTS}
        self.status: dict[str, tuple[str, bool]] = {}        # contact id -> (status, opted out or suppressed)
        self.suppressed: list[dict] = []
        self.tags = dict(SEGMENTS)

    def write(self) -> None:
        export = self.settings.export_dir
        for segment, rows in self.members.items():
            (export / segment).mkdir(parents=True, exist_ok=True)
            table = pa.Table.from_pylist(rows, schema=pa.schema([(c, pa.string()) for c in person(0)]))
            pq.write_table(table, export / segment / f"{segment}.parquet")
            for row in rows:
                self.status.setdefault(row["contact_id"], ("live", False))
        with (export / "suppressions.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, ["email_address", "reason", "contact_id"])
            writer.writeheader()
            writer.writerows(self.suppressed)
        (export / "manifest.json").write_text(json.dumps({"segments": [{"segment": s} for s in self.members]}))
        self.settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.settings.warehouse))
        try:
            con.execute("create schema if not exists exports")
            con.execute("create or replace table exports.segment_catalog (segment_name varchar, mailchimp_tag varchar)")
            con.executemany("insert into exports.segment_catalog values (?, ?)", list(self.tags.items()))
            con.execute("create or replace table exports.campaign_contact_status (contact_id varchar, "
                        "contact_status varchar, is_opted_out boolean, is_suppressed boolean)")
            if self.status:
                con.executemany("insert into exports.campaign_contact_status values (?, ?, ?, false)",
                                [[c, s, out] for c, (s, out) in self.status.items()])
        finally:
            con.close()


@pytest.fixture
def mailchimp(workspace: Settings, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    with MailchimpEmulator() as emulator:
        for key, value in {"API_KEY": API_KEY, "LIST_ID": LIST_ID, "BASE_URL": emulator.url + "/3.0",
                           "BACKOFF_SECONDS": "0.05"}.items():
            monkeypatch.setenv(f"DESTINATIONS__MAILCHIMP__{key}", value)
        yield emulator


def audience(emulator: MailchimpEmulator) -> dict[str, tuple[str, frozenset[str]]]:
    """address -> (status, tags) of every member the audience holds."""
    return {m.email_address.lower(): ("archived" if m.archived else m.status, frozenset(m.tags))
            for m in emulator.members.values()}


def test_a_first_sync_upserts_and_tags_in_batches_and_a_second_sends_nothing(workspace, mailchimp, capsys):
    night = Night(workspace)
    people = [person(i) for i in range(1200)]
    night.members["region_north_america"] = people[:1100]
    night.members["enterprise_decision_makers"] = people[1000:]
    night.write()
    mailchimp.latency_seconds = 0.02  # calls overlap: the connection limit is tested for real
    # someone the audience already has, who unsubscribed there: the sync never subscribes them again
    mailchimp.members[subscriber_hash(people[0]["email_address"])] = Member(people[0]["email_address"].lower(),
                                                                            "unsubscribed")

    dry = run_sync(workspace, dry_run=True)
    assert dry.planned["upserts"] == 1200 and dry.planned["tag adds"] == 1300 and mailchimp.calls == []
    assert not state_path(workspace).exists()

    first = run_sync(workspace)
    assert not first.errors and first.done["upserted"] == 1200 and first.done["tagged"] == 1300
    members = audience(mailchimp)
    assert len(members) == 1200 and members.pop(people[0]["email_address"].lower())[0] == "unsubscribed"
    assert {s for s, _ in members.values()} == {"subscribed"}
    assert mailchimp.member(people[0]["email_address"]).merge_fields == {"FNAME": "First0", "LNAME": "Last0"}
    assert mailchimp.tagged("North America") == {p["email_address"].lower() for p in people[:1100]}
    assert mailchimp.tagged("enterprise_decision_makers") == {p["email_address"].lower() for p in people[1000:]}
    assert mailchimp.member(people[5]["email_address"]).merge_fields == {"FNAME": "First5", "LNAME": "Last5"}
    upserts = [c for c in mailchimp.calls if c == ("POST", f"/3.0/lists/{LIST_ID}")]
    assert len(upserts) == 3  # 1,200 members, 500 a call
    assert 1 < mailchimp.max_seen <= 10

    calls = len(mailchimp.calls)
    again = run_sync(workspace)
    assert not any(again.planned.values()) and len(mailchimp.calls) == calls
    print_sync_result(first)
    print_sync_result(again)
    out = capsys.readouterr()
    assert "North America" in out.out
    assert "@" not in out.out + out.err  # no address in anything printed


def test_leavers_opt_outs_suppressions_and_erasures_reach_the_audience_next_sync(workspace, mailchimp):
    night = Night(workspace)
    people = [person(i) for i in range(40)]
    night.members["region_north_america"] = people[:30]
    night.members["enterprise_decision_makers"] = people[20:]
    night.write()
    assert not run_sync(workspace).errors

    left_one, left_all, opted_out, suppressed, erased, renamed = people[25], people[3], people[4], people[5], \
        people[6], people[7]
    night = Night(workspace)
    night.members["region_north_america"] = [p for p in people[:30] if p not in (left_one, left_all, opted_out,
                                                                                     suppressed, erased)]
    night.members["enterprise_decision_makers"] = people[20:]
    renamed = dict(renamed, last_name="Married")
    night.members["region_north_america"] = [renamed if p["contact_id"] == renamed["contact_id"] else p
                                             for p in night.members["region_north_america"]]
    night.status = {left_all["contact_id"]: ("live", False), opted_out["contact_id"]: ("live", True),
                    suppressed["contact_id"]: ("live", True), erased["contact_id"]: ("erased", False)}
    night.suppressed = [{"email_address": suppressed["email_address"], "reason": "suppressed",
                         "contact_id": suppressed["contact_id"]}]
    night.write()
    second = run_sync(workspace)
    assert not second.errors, second.errors
    members = audience(mailchimp)
    key = str.lower
    assert members[key(left_one["email_address"])] == ("subscribed", {"enterprise_decision_makers"})
    assert members[key(left_all["email_address"])] == ("archived", frozenset())
    assert members[key(opted_out["email_address"])][0] == "unsubscribed"
    assert members[key(suppressed["email_address"])][0] == "unsubscribed"
    assert key(erased["email_address"]) not in members
    assert subscriber_hash(erased["email_address"]) in mailchimp.deleted_for_good
    assert mailchimp.member(renamed["email_address"]).merge_fields["LNAME"] == "Married"
    assert second.done["erased"] == 1 and second.done["archived"] == 1 and second.done["unsubscribed"] == 2
    # the erased person's hash is gone from the sync state too
    con = duckdb.connect(str(state_path(workspace)), read_only=True)
    try:
        hashes = {h for (h,) in con.execute("select subscriber_hash from members").fetchall()}
    finally:
        con.close()
    assert subscriber_hash(erased["email_address"]) not in hashes and len(hashes) == 39

    # the archived person comes back: upserted, tagged again; the unsubscribed one stays unsubscribed
    night.members["region_north_america"] += [left_all, opted_out]
    night.status[opted_out["contact_id"]] = ("live", False)
    night.write()
    assert not run_sync(workspace).errors
    members = audience(mailchimp)
    assert members[key(left_all["email_address"])] == ("subscribed", {"North America"})
    assert members[key(opted_out["email_address"])] == ("unsubscribed", {"North America"})


def test_refusals_rate_limits_and_failures_warn_and_the_next_sync_finishes(workspace, mailchimp, monkeypatch):
    night = Night(workspace)
    people = [person(i) for i in range(30)]
    invalid = dict(person(99), email_address="not-an-address@nowhere")
    night.members["region_north_america"] = [*people, invalid]
    night.write()
    mailchimp.inject(429, 503, 500)  # waited out and retried: every call is idempotent
    first = run_sync(workspace)
    assert first.done["upserted"] == 30 and first.done["refused"] == 1 and len(first.errors) == 1
    assert "@" not in " ".join(first.errors)
    assert mailchimp.tagged("North America") == {p["email_address"].lower() for p in people}
    # the refused address is not sent again while it is the same
    calls = len(mailchimp.calls)
    assert not any(run_sync(workspace).planned.values()) and len(mailchimp.calls) == calls

    # a Mailchimp that keeps failing: what could not be sent is sent by the next sync
    night.members["enterprise_decision_makers"] = people[:12]
    night.write()
    monkeypatch.setenv("DESTINATIONS__MAILCHIMP__MAX_RETRIES", "0")
    # the audience and the tag's creation pass; every tagging call then fails
    mailchimp.inject_at(len(mailchimp.calls) + 4, *([500] * 50))
    failing = run_sync(workspace)
    assert failing.errors and failing.done["tagged"] == 0
    monkeypatch.setenv("DESTINATIONS__MAILCHIMP__MAX_RETRIES", "5")
    mailchimp.clear_faults()
    assert not run_sync(workspace).errors
    assert mailchimp.tagged("enterprise_decision_makers") == {p["email_address"].lower() for p in people[:12]}

    # a tag deleted in Mailchimp by hand: the sync says so, then makes it again
    tag_id = next(i for i, name in mailchimp.tags.items() if name == "enterprise_decision_makers")
    del mailchimp.tags[tag_id]
    night.members["enterprise_decision_makers"] = people[:13]
    night.write()
    assert any("404" in e for e in run_sync(workspace).errors)
    assert not run_sync(workspace).errors
    assert "enterprise_decision_makers" in mailchimp.member(people[12]["email_address"]).tags


def test_a_rejected_key_stops_the_sync_and_shows_no_key(workspace, mailchimp, monkeypatch):
    monkeypatch.setenv("DESTINATIONS__MAILCHIMP__API_KEY", "wrong-key-LEAKCHECK-us99")
    night = Night(workspace)
    night.members["region_north_america"] = [person(1)]
    night.write()
    with pytest.raises(MailchimpError, match="401"):
        run_sync(workspace)
    code = subprocess.run([sys.executable, "-m", "batch", "sync"], cwd=REPO_ROOT, capture_output=True, text=True,
                          env={**os.environ}, timeout=120)
    assert code.returncode == 1 and "401" in code.stderr
    assert "LEAKCHECK" not in code.stdout + code.stderr
    monkeypatch.delenv("DESTINATIONS__MAILCHIMP__API_KEY")
    skipped = run_sync(workspace)
    assert skipped.skipped and "API key" in skipped.skipped and mailchimp.members == {}


def test_too_many_archives_at_once_are_held_but_opt_outs_and_erasures_are_not(workspace, mailchimp, monkeypatch):
    night = Night(workspace)
    people = [person(i) for i in range(120)]
    night.members["region_north_america"] = people
    night.write()
    run_sync(workspace)
    night = Night(workspace)
    night.tags = {"enterprise_decision_makers": "enterprise_decision_makers"}  # North America stopped opting in
    night.members = {"enterprise_decision_makers": []}
    night.status = {p["contact_id"]: ("live", False) for p in people[2:]}
    night.status[people[1]["contact_id"]] = ("live", True)   # opted out
    night.status[people[0]["contact_id"]] = ("erased", False)
    night.write()
    held = run_sync(workspace)
    assert held.held == 118 and held.done["unsubscribed"] == 1 and held.done["erased"] == 1
    assert len(mailchimp.tagged("North America")) == 118
    monkeypatch.setenv("EXPORT_MAX_REMOVE_SHARE", "1")  # the exports' setting is the sync's too: 1 holds nothing
    assert run_sync(workspace, dry_run=True).planned["archives"] == 118
    monkeypatch.delenv("EXPORT_MAX_REMOVE_SHARE")
    confirmed = run_sync(workspace, confirm_removals=True)
    assert confirmed.done["archived"] == 118 and mailchimp.tagged("North America") == set()


def test_a_killed_sync_repeated_ends_where_one_sync_would(workspace, mailchimp, tmp_path):
    """SIGKILL mid-sync (calls slowed so that it is mid-way), then the same command again:
    the audience ends as after one uninterrupted sync, and only what was left is sent."""
    night = Night(workspace)
    people = [person(i) for i in range(1500)]
    night.members["region_north_america"] = people
    night.members["enterprise_decision_makers"] = people[::3]
    night.write()
    mailchimp.latency_seconds = 0.4
    env = {**os.environ, "DESTINATIONS__MAILCHIMP__MAX_CONNECTIONS": "1", "DESTINATIONS__MAILCHIMP__BATCH_SIZE": "100"}
    sync = subprocess.Popen([sys.executable, "-m", "batch", "sync"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    waited = 0.0
    while len(mailchimp.members) < 600 and waited < 120 and sync.poll() is None:
        time.sleep(0.05)
        waited += 0.05
    sync.send_signal(signal.SIGKILL)
    sync.wait(timeout=30)
    killed_at = len(mailchimp.members)
    assert 0 < killed_at < 1500 and not mailchimp.tagged("North America")
    calls_before = len(mailchimp.calls)
    mailchimp.latency_seconds = 0.0
    resumed = subprocess.run([sys.executable, "-m", "batch", "sync"], cwd=REPO_ROOT, env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    # the key is in no output and not in the sync's memory
    killed_out = sync.stdout.read() + sync.stderr.read()
    assert API_KEY not in resumed.stdout + resumed.stderr and API_KEY.encode() not in killed_out
    assert API_KEY.encode() not in state_path(workspace).read_bytes()
    assert mailchimp.tagged("North America") == {p["email_address"].lower() for p in people}
    assert mailchimp.tagged("enterprise_decision_makers") == {p["email_address"].lower() for p in people[::3]}
    assert {s for s, _ in audience(mailchimp).values()} == {"subscribed"} and len(mailchimp.members) == 1500
    # the resumed sync upserted only what the killed one had not (the call in flight at most again)
    upserts = sum(1 for c in mailchimp.calls[calls_before:] if c == ("POST", f"/3.0/lists/{LIST_ID}"))
    assert upserts <= -(-(1500 - killed_at) // 100) + 1
    assert not any(run_sync(workspace).planned.values())


def test_a_sync_killed_while_archiving_repeats_at_most_the_member_calls_not_yet_written(workspace, mailchimp):
    """The one-member calls (untag, archive) are remembered together, REMEMBER_ROWS at a time
    or every REMEMBER_SECONDS: killed mid-way, the next sync finishes the archives and repeats
    no more than what was not yet written."""
    from batch.audience_sync import REMEMBER_ROWS

    night = Night(workspace)
    people = [person(i) for i in range(600)]
    night.members["region_north_america"] = people
    night.write()
    assert not run_sync(workspace).errors
    night = Night(workspace)
    night.status = {p["contact_id"]: ("live", False) for p in people}  # all of them leave the list
    night.write()
    mailchimp.latency_seconds = 0.01
    calls_before = len(mailchimp.calls)
    env = {**os.environ, "DESTINATIONS__MAILCHIMP__MAX_CONNECTIONS": "1"}
    sync = subprocess.Popen([sys.executable, "-m", "batch", "sync", "--confirm-removals"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    waited = 0.0
    while sum(m.archived for m in mailchimp.members.values()) < 250 and waited < 120 and sync.poll() is None:
        time.sleep(0.05)
        waited += 0.05
    sync.send_signal(signal.SIGKILL)
    sync.wait(timeout=30)
    assert 0 < sum(m.archived for m in mailchimp.members.values()) < 600
    mailchimp.latency_seconds = 0.0
    resumed = subprocess.run([sys.executable, "-m", "batch", "sync", "--confirm-removals"], cwd=REPO_ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert all(m.archived for m in mailchimp.members.values()) and not mailchimp.tagged("North America")
    member_calls = sum(1 for _, path in mailchimp.calls[calls_before:] if "/members/" in path)
    assert member_calls <= 2 * 600 + REMEMBER_ROWS + 1  # an untag and an archive each, and what was unwritten
    assert not any(run_sync(workspace).planned.values())


def test_a_warehouse_that_does_not_know_the_synced_contacts_deletes_nobody(workspace, mailchimp):
    """Only a contact the warehouse says was erased is deleted for good: members of contacts
    it never issued (another warehouse behind CONTACTS_WAREHOUSE) are left as they are."""
    night = Night(workspace)
    people = [person(i) for i in range(10)]
    night.members["region_north_america"] = people
    night.write()
    run_sync(workspace)
    Night(workspace).write()  # no member, no contact status: a warehouse that knows nobody
    result = run_sync(workspace)
    assert not any(result.planned.values()) and "does not know" in " ".join(result.errors)
    assert mailchimp.deleted_for_good == set() and len(mailchimp.tagged("North America")) == 10


def test_two_tags_answered_at_once_are_both_remembered(workspace, mailchimp, monkeypatch):
    """Two segments' tag calls for the same members answered together: the memory keeps both
    tags whichever call's write lands first (a race the first CI run of this test file lost)."""
    from batch.audience_sync import SyncState

    night = Night(workspace)
    people = [person(i) for i in range(10)]
    night.members["region_north_america"] = people
    night.members["enterprise_decision_makers"] = people
    night.write()
    save, delayed = SyncState.save, []

    def first_tag_write_is_slow(self, rows):  # noqa: ANN001, ANN202
        if rows and rows[0][3] and not delayed:
            delayed.append(True)
            time.sleep(0.5)  # the other tag call is answered and written meanwhile
        save(self, rows)

    monkeypatch.setattr(SyncState, "save", first_tag_write_is_slow)
    first = run_sync(workspace)
    assert not first.errors and first.done["tagged"] == 20 and delayed
    again = run_sync(workspace, dry_run=True)
    assert not any(again.planned.values()), again.planned
