"""Fixtures: a throw-away workspace (warehouse, landing, exports) per test."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.settings import Settings, load_settings


def query(settings: Settings, sql: str) -> list[tuple]:
    """Rows of one query against the warehouse, opened read-only."""
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings pointing at a fresh warehouse and empty landing/export folders under tmp_path."""
    monkeypatch.setenv("CONTACTS_WAREHOUSE", str(tmp_path / "warehouse" / "contacts.duckdb"))
    monkeypatch.setenv("LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("EXPORT_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("GROUND_TRUTH_DIR", str(tmp_path / "truth"))
    monkeypatch.setenv("REPORT_DIR", str(tmp_path / "reports"))
    # dbt writes its target/ and logs/ here instead of the repository
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt_target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "dbt_logs"))
    (tmp_path / "landing").mkdir()
    return load_settings()


def write_fixture_files(landing: Path) -> dict[str, dict]:
    """Messy landing files and what ingestion must make of each: read / loaded / quarantined."""
    crm = (
        "\ufeffRecord ID,First Name,Last Name,E-mail,Phone Number,Company Name,Street Address,"
        "Country/Region,Unsubscribed,Last Modified Date,Lifecycle Stage\r\n"
        '1,Ann,Lee,ann@acme.com,+1 212 555 0100,Acme Inc.,"1 Main St\r\nSuite 5",USA,false,2025-03-14 09:21,lead\r\n'
        "2,Bob,Stone,bob@acme.com,,Acme,2 Main St,USA,true,2025-03-15 10:00,customer\r\n"
        "3,Too,Many,x@y.com,,Acme,3 Main St,USA,false,2025-03-15 10:00,lead,EXTRA\r\n"
        "\r\n"
        "4,,,,,Lonely Corp,,UK,false,,lead\r\n"
        '5,Zoë,Ünal,zoe@acme.de,,Acme GmbH,"Straße ""am"" Ende 1",Germany,no,14.03.2025 09:21,lead\r\n'
    )
    (landing / "crm__contacts.csv").write_bytes(crm.encode("utf-8"))

    fair = (
        "Badge No;Name;Firma;Telefon;PLZ;Land\n"
        "B1;Hélène Dubois;Société Générale;+33 1 23 45 67 89;75008;France\n"
        "B2;Jürgen Müller;Müller GmbH;030 1234567;10115;Deutschland\n"
    )
    (landing / "fair__leads.csv").write_bytes(fair.encode("latin-1"))

    webinar = (
        '{"registrant_id": "r1", "email": "a@b.com", "utm": {"source": "x"}, "unsubscribed": true}\n'
        "not json\n"
        "[1, 2]\n"
        "\n"
        '{"registrant_id": "r2", "first_name": "Cé", "score": 3}\n'
        '{"registrant_id": "r3", "company": "NoName Ltd"}\n'
    )
    (landing / "webinar__feed.jsonl").write_text(webinar, encoding="utf-8")

    buf = io.BytesIO()
    pq.write_table(pa.table({
        "partner_contact_id": ["P1", "P2", "P3"],
        "contact_name": ["Dr. Jane Roe", None, "Raj Patel"],
        "email_address": ["jane@roe.io", None, None],
        "do_not_email": pa.array([True, False, None], pa.bool_()),
        "last_updated": pa.array([datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)] * 3,
                                 pa.timestamp("us", tz="UTC")),
    }), buf)
    (landing / "partner__list.parquet").write_bytes(buf.getvalue())

    (landing / "broken__file.parquet").write_bytes(b"this is not parquet at all")
    (landing / "notes.xlsx").write_bytes(b"PK\x03\x04 spreadsheet")
    (landing / "mixed_sources.csv").write_text("source_system,email\nhubspot,a@x.com\n,b@x.com\n", encoding="utf-8")
    (landing / "bad__quote.csv").write_text('id,email\n1,a@x.com\n2,"b@x.com\n3,c@x.com\n', encoding="utf-8")
    (landing / ".hidden.csv").write_text("email\nhidden@x.com\n", encoding="utf-8")

    return {
        "crm__contacts.csv": {"read": 5, "loaded": 3, "quarantined": 2,
                              "reasons": {"malformed_row": 1, "no_identity": 1}},
        "fair__leads.csv": {"read": 2, "loaded": 2, "quarantined": 0, "reasons": {}},
        "webinar__feed.jsonl": {"read": 5, "loaded": 2, "quarantined": 3,
                                "reasons": {"invalid_json": 1, "not_an_object": 1, "no_identity": 1}},
        "partner__list.parquet": {"read": 3, "loaded": 2, "quarantined": 1, "reasons": {"no_identity": 1}},
        "mixed_sources.csv": {"read": 2, "loaded": 2, "quarantined": 0, "reasons": {}},
        "bad__quote.csv": {"read": 2, "loaded": 1, "quarantined": 1, "reasons": {"malformed_row": 1}},
        "broken__file.parquet": {"failed": True},
        "notes.xlsx": {"failed": True},
    }


@pytest.fixture
def fixture_files(workspace: Settings) -> dict[str, dict]:
    return write_fixture_files(workspace.landing_dir)


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory):
    """A function rendering a page in headless Chromium; Debian's chromium is installed when missing."""
    import os
    import shutil
    import subprocess

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
                       check=True, env=env)
        binary = shutil.which("chromium")
    assert binary, "Debian's chromium package did not install"
    profile = tmp_path_factory.mktemp("chromium_profile")

    def render(url: str, *extra: str) -> str:
        """The DOM of `url` once its scripts have run (or the output of --screenshot etc.)."""
        result = subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1400,1000",
                                 "--virtual-time-budget=20000", *(extra or ("--dump-dom",)), url],
                                capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    return render
