"""The demo generator: deterministic, shaped like real exports, messy in the documented ways."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from pathlib import Path

import phonenumbers
import pyarrow.parquet as pq
import pytest

from ingestion.landing import file_sha256
from tooling.demo.generator import FILE_NAMES, generate
from tooling.demo.marker import DEMO_MARKER


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path, object]:
    root = tmp_path_factory.mktemp("demo")
    summary = generate(20_000, 7, root / "landing", root / "truth")
    return root / "landing", root / "truth", summary


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    generate(1500, 11, tmp_path / "a", tmp_path / "ta")
    generate(1500, 11, tmp_path / "b", tmp_path / "tb")
    generate(1500, 12, tmp_path / "c", tmp_path / "tc")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "ta") == digest(tmp_path / "tb")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_files_look_like_their_crm_exports(demo):
    landing, truth, summary = demo
    assert sorted(p.name for p in landing.iterdir() if not p.name.startswith(".")) == sorted(FILE_NAMES.values())
    # the hidden marker names every file as demo data, by content (only demo data may go to the emulator)
    marker = json.loads((landing / DEMO_MARKER).read_text())
    assert marker == {name: file_sha256(landing / name) for name in FILE_NAMES.values()}
    hubspot = (landing / FILE_NAMES["hubspot"]).read_bytes()
    assert hubspot.startswith(b"Record ID,First Name,Last Name,Email") and b"\r\n" in hubspot
    salesforce = (landing / FILE_NAMES["salesforce"]).read_bytes()
    assert salesforce.startswith(b"\xef\xbb\xbfContact ID,Salutation")  # BOM
    with (landing / FILE_NAMES["salesforce"]).open(encoding="utf-8-sig", newline="") as f:
        streets = [row["Mailing Street"] for row in csv.DictReader(f)]
    assert any("\n" in s for s in streets), "multi-line streets (quoted newlines)"
    tradeshow = (landing / FILE_NAMES["tradeshow"]).read_bytes()
    assert tradeshow.startswith(b"Badge No;Name;Company")
    with pytest.raises(UnicodeDecodeError):
        tradeshow.decode("utf-8")  # Latin-1 with accented names
    lines = (landing / FILE_NAMES["webinar"]).read_text(encoding="utf-8").splitlines()
    assert all(isinstance(json.loads(line), dict) for line in lines)
    partner = pq.read_table(landing / FILE_NAMES["partner"])
    assert partner.schema.field("do_not_email").type == "bool"
    # record counts: the files hold every record plus the junk rows
    assert summary.contacts == 20_000
    assert sum(summary.files.values()) == 20_000 + summary.junk_rows


def test_ground_truth_covers_every_record(demo):
    _, truth, summary = demo
    records = pq.read_table(truth / "records.parquet").to_pylist()
    persons = pq.read_table(truth / "persons.parquet").to_pylist()
    companies = pq.read_table(truth / "companies.parquet").to_pylist()
    assert len(records) == 20_000 and len(persons) == summary.persons
    assert len({(r["source_system"], r["source_record_id"]) for r in records}) == len(records)
    assert {r["person_id"] for r in records} == {p["person_id"] for p in persons}
    for column in ("job_title", "seniority", "department"):
        assert all(p[column] for p in persons)
    for column in ("employee_count", "size_band", "industry"):
        assert all(c[column] is not None for c in companies)


def test_duplicates_and_mess(demo):
    _, truth, _ = demo
    records = pq.read_table(truth / "records.parquet").to_pylist()
    per_person = Counter(r["person_id"] for r in records)
    duplicate_share = 1 - len(per_person) / len(records)
    assert 0.15 <= duplicate_share <= 0.20
    assert max(per_person.values()) <= 6 and min(per_person.values()) >= 1
    kinds = Counter(k for r in records for k in r["duplicate_kinds"])
    for kind in ("nickname", "typo", "initial", "personal_email", "job_change", "switchboard", "role_email"):
        assert kinds[kind] > 0, kind
    assert len({r["true_country_code"] for r in records}) >= 8
    assert any(r["email_is_valid"] is False for r in records)
    assert any(r["phone_is_valid"] is False for r in records)


def test_true_phones_are_valid_numbers(demo):
    _, truth, _ = demo
    records = pq.read_table(truth / "records.parquet").to_pylist()
    phones = [r for r in records if r["true_phone_e164"]][:3000]
    valid = sum(phonenumbers.is_valid_number(phonenumbers.parse(r["true_phone_e164"])) for r in phones)
    assert valid / len(phones) >= 0.99


def test_hard_non_matches_colleagues_share_company_evidence(demo):
    _, truth, _ = demo
    persons = pq.read_table(truth / "persons.parquet").to_pylist()
    by_office = Counter((p["company_id"], p["switchboard_e164"]) for p in persons)
    assert max(by_office.values()) >= 5, "colleagues share company, office and switchboard"
    namesakes = [p for p in persons if p["namesake_of"]]
    assert namesakes, "some colleagues even share a name"
    by_id = {p["person_id"]: p for p in persons}
    for p in namesakes[:20]:
        twin = by_id[p["namesake_of"]]
        assert (twin["first_name"], twin["last_name"], twin["company_id"]) == \
            (p["first_name"], p["last_name"], p["company_id"])
        assert twin["email"] != p["email"]


def test_us_streets_take_the_forms_real_exports_hold(demo):
    """No house number, grid and hyphenated numbers, post-directionals, Publication 28's C1
    suffixes and C2 units: the forms `contacts-demo accuracy` then measures."""
    _, truth, _ = demo
    table = pq.read_table(truth / "records.parquet", columns=["true_street_address", "true_street_unit",
                                                              "true_street_suffix"]).to_pylist()
    us = [r for r in table if r["true_street_address"]]
    lines = [r["true_street_address"] for r in us]
    assert sum(not line[0].isdigit() and not line[1:2].isdigit() for line in lines) > 50      # OLIPHANT ST
    assert sum(line[0] in "NSEW" and line[1:2].isdigit() for line in lines) > 50              # N6526 ...
    assert sum("-" in line.split(" ")[0] for line in lines) > 20                              # 119-46 ...
    assert sum(line.split(" ")[-1] in {"N", "S", "E", "W", "NE", "NW", "SE", "SW"} for line in lines) > 200
    assert len({r["true_street_suffix"] for r in us}) > 100
    units = {r["true_street_unit"].split(" ")[0] for r in us if r["true_street_unit"]}
    assert {"STE", "FL", "RM", "#", "UNIT", "APT", "BSMT", "BLDG"} <= units
