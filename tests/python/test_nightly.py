"""The nightly command (contacts run), end to end, as a scheduler runs it.

Real processes: the nightly run is a subprocess in its own session, killed with SIGKILL
at the checkpoints of ingestion/faults.py; the alerts go to a webhook receiver on
127.0.0.1; the providers are the emulator the run starts itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import duckdb
import psutil
import pyarrow.parquet as pq
import pytest

from batch.dbt import dbt_command
from batch.runner import EXIT_LOCKED
from ingestion.faults import KILL_AT_ENV
from ingestion.settings import REPO_ROOT, segment_models
from tooling.demo.generator import generate

CONTACTS = 1500
PATHS = {"CONTACTS_WAREHOUSE": "warehouse/contacts.duckdb", "LANDING_DIR": "landing", "EXPORT_DIR": "exports",
         "GROUND_TRUTH_DIR": "truth", "REPORT_DIR": "reports", "DBT_LOG_PATH": "dbt_logs"}
CHECKPOINTS = ["load", "build_before_enrichment", "enrich", "build_after_enrichment", "export"]


def environment(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SOURCES__ENRICHMENT", "SOURCES__CRM", "DESTINATIONS__MAILCHIMP", "NIGHTLY_",
                                KILL_AT_ENV))}
    env.update({name: str(root / rel) for name, rel in PATHS.items()})
    env.update(NIGHTLY_RETRY_WAIT_SECONDS="1", **extra)
    return env


def nightly(root: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    """`contacts run`, as a scheduler calls it; with "--demo" first, `contacts-demo run` (what make run does)."""
    command = ["tooling", "run", *args[1:]] if args[:1] == ("--demo",) else ["batch", "run", *args]
    return subprocess.run([sys.executable, "-m", *command], cwd=REPO_ROOT,
                          env=environment(root, **extra), capture_output=True, text=True, timeout=900,
                          start_new_session=True)  # its own process group, as under cron or systemd


def state(root: Path) -> dict:
    return json.loads((root / "warehouse" / ".contacts.nightly" / "state.json").read_text())


def rows(root: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(root / PATHS["CONTACTS_WAREHOUSE"]), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


PERSON_KEY = """
    person as (
        select map.contact_id, min(staged.source_file_path || ':' || lpad(cast(staged.source_row_number as varchar),
                                                                          8, '0')) as person_key
        from deduped.contact_identity_map as map
        inner join staging.stg_landing__contacts as staged on map.contact_record_id = staged.contact_record_id
        group by map.contact_id
    )"""


def final_tables(root: Path) -> dict[str, object]:
    """What a night produces, without the timestamps of when it was produced.

    Contact ids are minted per warehouse, so contacts are compared by the first landing row
    (file and row number) that is theirs.
    """
    snapshot: dict[str, object] = {}
    for name, sql in {
        "raw contacts": "select count(*), count(distinct _file_load_id) from raw_landing.contacts",
        "quarantined": "select count(*) from raw_landing.quarantined_rows",
        "file loads": "select file_path, rows_loaded, status from raw_landing.file_loads order by all",
        # the answers; an interrupted night also has rows for the calls a kill cut off
        # (failed, may_be_billed), which an uninterrupted one cannot have
        "responses": "select count(*), count(distinct request_id), sum(credits_charged) "
                     "from raw_enrichment.provider_responses where outcome in ('matched', 'not_found')",
        "pending requests": "select count(*) from enriched.enrichment_requests",
        "cleaned": "select count(*) from cleaned.cleaned_contacts",
        "contacts": f"with {PERSON_KEY} select person_key, email_address, job_title, seniority, company_size_band, "
                    "industry, job_title_source, can_be_contacted, completeness_score "
                    "from enriched.dim_contacts inner join person using (contact_id) order by all",
        "memberships": f"with {PERSON_KEY} select segment_name, person_key from exports.segment_memberships "
                       "inner join person using (contact_id) order by all",
        "open spells": "select segment_name, count(*) from exports.segment_membership_history "
                       "where is_current group by all order by all",
    }.items():
        snapshot[name] = rows(root, sql)
    exports = root / "exports"
    manifest = json.loads((exports / "manifest.json").read_text())
    snapshot["manifest"] = [(s["segment"], s["rows"], s["adds"], s["removes"]) for s in manifest["segments"]]
    for s in manifest["segments"]:
        table = pq.read_table(exports / s["segment"] / f"{s['segment']}.parquet")
        snapshot[f"export {s['segment']}"] = sorted(
            tuple(str(v) for v in row.values()) for row in table.drop(["contact_id", "in_segment_since"]).to_pylist())
    snapshot["export folders"] = sorted(p.name for p in exports.iterdir())
    return snapshot


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo landing files and their ground truth, copied into each workspace."""
    root = tmp_path_factory.mktemp("nightly_landing")
    generate(CONTACTS, 7, root / "landing", root / "truth")
    return root


def workspace_from(landing: Path, root: Path) -> Path:
    shutil.copytree(landing / "landing", root / "landing")
    shutil.copytree(landing / "truth", root / "truth")
    return root


@pytest.fixture(scope="module")
def reference(landing: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An uninterrupted nightly run; while it is going, a second one is started."""
    root = workspace_from(landing, tmp_path_factory.mktemp("nightly_reference"))
    out_file, err_file = (root / "first.out").open("w+"), (root / "first.err").open("w+")
    first = subprocess.Popen([sys.executable, "-m", "tooling", "run"], cwd=REPO_ROOT,
                             env=environment(root), stdout=out_file, stderr=err_file, text=True,
                             start_new_session=True)
    state_file = root / "warehouse" / ".contacts.nightly" / "state.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the first run is past its load, into dbt
        if state_file.exists() and any(s["step"] == "build_before_enrichment" for s in state(root)["steps"]):
            break
        time.sleep(0.2)
    second = nightly(root)
    first.wait(timeout=900)
    out, err = (root / "first.out").read_text(), (root / "first.err").read_text()
    out_file.close()
    err_file.close()
    return {"root": root, "first": (first.returncode, out, err), "second": second}


def test_a_second_run_is_refused_while_one_is_going(reference):
    second = reference["second"]
    code, out, err = reference["first"]
    assert second.returncode == EXIT_LOCKED
    run_id = state(reference["root"])["run_id"]
    assert "Not starting" in second.stderr and f"nightly run {run_id}" in second.stderr and "pid" in second.stderr
    assert "== load" not in second.stdout  # it touched nothing
    assert code == 0, out + err
    assert re.search(rf"Run {run_id} (succeeded|warned)", out)


def test_uninterrupted_run_reports_every_step(reference):
    root = reference["root"]
    _, out, _ = reference["first"]
    steps = rows(root, "select step, status, attempts from monitoring.nightly_steps order by step_order")
    assert [s[0] for s in steps] == [*CHECKPOINTS, "sync"]
    assert all(status in ("ok", "warn") and attempts == 1 for _, status, attempts in steps[:-1])
    assert steps[-1][1] == "skipped" and "Mailchimp sync skipped: Mailchimp not configured" in out
    # counts per step, from the load to the exports
    counts = dict(rows(root, "select step, counts_json from monitoring.nightly_steps"))
    assert json.loads(counts["load"])["rows_loaded"] == rows(root, "select count(*) from raw_landing.contacts")[0][0]
    assert json.loads(counts["enrich"])["matched"] > 0
    assert json.loads(counts["export"])["segments"] == len(json.loads((root / "exports" / "manifest.json")
                                                                      .read_text())["segments"])
    # every dbt result of both phases is in the audit table, tagged with its step
    audited = dict(rows(root, "select nightly_step, count(*) from monitoring.dbt_results group by all"))
    assert audited["build_before_enrichment"] > 100 and audited["build_after_enrichment"] > 50
    # ... and no unit test: their fixed inputs cannot change from night to night
    assert rows(root, "select count(*) from monitoring.dbt_results where resource_type = 'unit_test'") == [(0,)]
    # one set of metrics per run, for every layer
    layers = {d for (d,) in rows(root, "select dimension from monitoring.pipeline_metrics "
                                       "where metric_group = 'volume' and metric_name = 'rows'")}
    assert layers == {"landing", "cleaned", "deduped", "enriched", "exported"}
    assert "report:    file://" in out and (root / "reports" / "nightly_report.html").exists()
    # failing and warning tests' rows are looked at through views (nothing personal is
    # copied), kept for exactly the tests whose latest result this night failed or warned
    kept = rows(root, "select table_name, table_type from information_schema.tables "
                      "where table_schema = 'test_failures'")
    latest = rows(root, "select status, stored_failures_relation from monitoring.dbt_results "
                        "where resource_type = 'test' "
                        "qualify row_number() over (partition by unique_id order by recorded_at desc) = 1")
    assert {table_type for _, table_type in kept} <= {"VIEW"} and {name for name, _ in kept} == {
        relation.split(".")[-1].strip('"') for status, relation in latest if status in ("warn", "fail")}
    assert all(relation for status, relation in latest if status in ("warn", "fail"))
    # dbt parsed the project once: the second phase (its own target folder) reused the first's parse
    dbt_log = (root / "dbt_logs" / "dbt.log").read_text(encoding="utf-8", errors="replace")
    assert dbt_log.count("Starting full parse") == 1
    assert "no changes found, skipping parsing" in dbt_log


def test_a_run_killed_in_each_step_is_recovered_by_the_next(reference, landing, receiver, tmp_path):
    root = workspace_from(landing, tmp_path)
    for checkpoint in CHECKPOINTS:
        killed = nightly(root, "--demo", **{KILL_AT_ENV: checkpoint})
        assert killed.returncode == -9, f"{checkpoint}: {killed.stdout[-2000:]}{killed.stderr[-2000:]}"
        running = [s["step"] for s in state(root)["steps"] if s["status"] == "running"]
        assert running == [checkpoint]
    final = nightly(root, "--demo", NIGHTLY_ALERT_WEBHOOK_URL=receiver.url)
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
    assert "was killed during step export" in final.stdout
    # nobody heard of the killed run when it died: the run that found it says so
    assert len(receiver.messages) == 1 and "was killed during *export*" in json.dumps(receiver.messages[0])
    # the last run only had the exports left to do
    steps = {s["step"]: s for s in state(root)["steps"]}
    assert steps["load"]["status"] == "ok" and steps["export"]["status"] == "ok"
    for step in ("build_before_enrichment", "enrich", "build_after_enrichment"):
        assert steps[step]["status"] == "skipped" and steps[step]["method"].startswith("done by"), steps[step]
    # the killed runs are on record
    recorded = rows(root, "select status, count(*) from monitoring.nightly_runs group by all")
    assert dict(recorded) == {"killed": 5, state(root)["status"]: 1}
    # and the night ends with the same tables and files as the uninterrupted run
    expected, got = final_tables(reference["root"]), final_tables(root)
    for name in expected:
        assert got[name] == expected[name], name


def test_resumed_runs_killed_again_and_again_are_recovered_by_the_next(reference, landing, tmp_path):
    """Kills that land in runs that were themselves resuming, in every step, several in a
    row (the load step of a resuming run above all): the chain of interrupted runs counts."""
    root = workspace_from(landing, tmp_path)
    # every run is killed, each resuming the one before: after a kill in a step, a kill in
    # the load step of the next run, so the run after that resumes a run that finished nothing
    kills = ["load", "load", "build_before_enrichment", "load", "enrich", "load", "build_after_enrichment",
             "load", "export", "load"]
    for checkpoint in kills:
        killed = nightly(root, "--demo", **{KILL_AT_ENV: checkpoint})
        assert killed.returncode == -9, f"{checkpoint}: {killed.stdout[-2000:]}{killed.stderr[-2000:]}"
        assert [s["step"] for s in state(root)["steps"] if s["status"] == "running"] == [checkpoint]
    final = nightly(root, "--demo")
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
    steps = {s["step"]: s for s in state(root)["steps"]}
    for step in ("build_before_enrichment", "enrich", "build_after_enrichment"):
        assert steps[step]["method"].startswith("done by"), steps[step]
    expected, got = final_tables(reference["root"]), final_tables(root)
    for name in expected:
        assert got[name] == expected[name], name


class WebhookReceiver:
    """A Slack-style incoming webhook on 127.0.0.1 that keeps what it is sent."""

    def __init__(self) -> None:
        received = self.messages = []
        pings = self.pings = []  # heartbeat pings (GET), by path

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def do_GET(self) -> None:  # noqa: N802
                pings.append(self.path.removeprefix("/services/T000/B000/XXXX"))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/XXXX"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    hook = WebhookReceiver()
    yield hook
    hook.close()


def _suppress(root: Path, name: str, share: float, already: set[str]) -> set[str]:
    """Land a client's unsubscribe file with `share` of the exported addresses not yet suppressed."""
    exported = sorted({e for (e,) in rows(root, "select email_address from exports.campaign_export_contacts")}
                      - already)
    chosen = set(exported[: int(len(exported) * share)])
    (root / "landing" / f"suppression__{name}.csv").write_text(
        "email\n" + "\n".join(sorted(chosen)) + "\n", encoding="utf-8")
    return chosen


def test_a_volume_drop_warns_then_a_collapse_stops_the_exports_and_alerts(reference, receiver, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(reference["root"], root)
    hook = {"NIGHTLY_ALERT_WEBHOOK_URL": receiver.url}

    # a night on which 40 % of the exported contacts unsubscribed: the lists shrink, a warning
    suppressed = _suppress(root, "tuesday", 0.4, set())
    warned = nightly(root, "--demo", NIGHTLY_ALERT_ON_WARNINGS="1", **hook)
    assert warned.returncode == 0, warned.stdout[-3000:]
    assert state(root)["status"] == "warned"
    breaches = rows(root, "select metric_group, metric_name, dimension, check_type from "
                          "test_failures.pipeline_metrics_within_warn_thresholds")
    assert ("volume", "rows", "exported", "max_drop") in breaches
    # the error thresholds held: that test passed and keeps no view
    assert not rows(root, "select 1 from information_schema.tables where table_schema = 'test_failures' "
                          "and table_name = 'pipeline_metrics_within_error_thresholds'")
    assert len(receiver.messages) == 1 and "warned" in receiver.messages[0]["text"]
    assert "pipeline_metrics_within_warn_thresholds" in json.dumps(receiver.messages[0])
    manifest_after_warning = (root / "exports" / "manifest.json").read_text()

    # the next night 90 % of the rest: the metrics tests fail the build before the exports
    suppressed |= _suppress(root, "wednesday", 0.9, suppressed)
    failed = nightly(root, "--demo", **hook)
    assert failed.returncode == 1
    run = state(root)
    assert run["status"] == "incomplete"
    steps = {s["step"]: s for s in run["steps"]}
    assert steps["build_after_enrichment"]["status"] == "failed"
    assert steps["export"]["status"] == "skipped"
    assert (root / "exports" / "manifest.json").read_text() == manifest_after_warning  # not replaced
    failing = rows(root, f"select node_name, status from monitoring.dbt_results "
                         f"where nightly_run_id = '{run['run_id']}' and status in ('fail', 'error')")
    assert ("pipeline_metrics_within_error_thresholds", "fail") in failing
    assert rows(root, "select count(*) from test_failures.pipeline_metrics_within_error_thresholds")[0][0] > 0

    assert len(receiver.messages) == 2
    alert = json.dumps(receiver.messages[1], ensure_ascii=False)
    assert "incomplete" in receiver.messages[1]["text"] and run["run_id"] in receiver.messages[1]["text"]
    for expected in ("build_after_enrichment", "pipeline_metrics_within_error_thresholds", "Not run: export",
                     "monitoring.dbt_results", "nightly_report.html"):
        assert expected in alert
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", alert.replace("@agency.example", "")), \
        "an address reached the alert"

    # nothing new the night after: the failed phase is retried from its failed nodes only
    again = nightly(root, "--demo", **hook)
    assert again.returncode == 1
    steps = {s["step"]: s for s in state(root)["steps"]}
    assert steps["build_before_enrichment"]["method"].startswith("done by")
    assert steps["build_after_enrichment"]["method"] == "dbt retry"
    retried = rows(root, f"select count(*) from monitoring.dbt_results "
                         f"where nightly_run_id = '{state(root)['run_id']}'")[0][0]
    assert 0 < retried < 20


def test_a_transient_failure_is_retried(reference, tmp_path):
    """Another process holds the warehouse for a few seconds: the load waits it out."""
    root = tmp_path / "ws"
    shutil.copytree(reference["root"], root)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('locked', flush=True); "
        "time.sleep(4)"), str(root / PATHS["CONTACTS_WAREHOUSE"])], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    result = nightly(root, "--demo", "--retries", "5", "--retry-wait", "2")
    holder.wait()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    steps = {s["step"]: s for s in state(root)["steps"]}
    assert steps["load"]["attempts"] > 1 and steps["load"]["status"] == "ok"
    assert "load failed" in result.stderr and "attempt 2 of 6" in result.stderr


def test_docs_describe_everything_and_render_in_chromium(reference, chromium, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(reference["root"], root)
    target = tmp_path / "docs"
    # as `make docs` runs it: naming the segment models, so the lineage draws them
    env = environment(root, DBT_TARGET_PATH=str(target), CONTACTS_SEGMENT_MODELS=" ".join(segment_models()))
    generated = subprocess.run(dbt_command(["docs", "generate", "--static"]),
                               cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert generated.returncode == 0, generated.stdout[-3000:]

    # every source, model, seed, macro and exposure, and every column the warehouse holds
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    ours = {uid: node for kind in ("nodes", "sources", "exposures", "macros") for uid, node in manifest[kind].items()
            if node.get("package_name") == "contact_enrichment" and node["resource_type"] not in ("test", "operation")}
    assert not [uid for uid, node in ours.items() if not node.get("description", "").strip()]
    undocumented = []
    for uid, entry in {**catalog["nodes"], **catalog["sources"]}.items():
        if uid in ours:
            described = {c.lower() for c, col in ours[uid]["columns"].items() if col.get("description", "").strip()}
            undocumented += [f"{uid}.{c}" for c in entry["columns"] if c.lower() not in described]
    assert not undocumented
    # every segment is drawn as a parent of the catalog the exports read
    assert {f"model.contact_enrichment.{name}" for name in segment_models()} == set(
        manifest["nodes"]["model.contact_enrichment.segment_catalog"]["depends_on"]["nodes"])
    built = [uid for uid in ours if uid.startswith(("model.", "seed."))]
    assert all(uid in catalog["nodes"] for uid in built)  # the check above saw every table
    colours = {node["config"]["docs"]["node_color"] for uid, node in ours.items() if uid.startswith("model.")}
    assert len(colours) == 7  # one per layer: staging, cleaned, deduped, enriched, segments, exports, monitoring
    site = (target / "static_index.html").as_uri()

    overview = chromium(f"{site}#!/overview")
    assert '<h1 id="contact-enrichment">Contact enrichment</h1>' in overview  # the __overview__ block, rendered
    model = chromium(f"{site}#!/model/model.contact_enrichment.dim_contacts")
    assert 'ng-binding">dim_contacts</span>' in model and 'ng-binding">completeness_score<' in model
    graph = chromium(f"{site}#!/model/model.contact_enrichment.dim_contacts?g_v=1")
    sizes = re.findall(r'data-id="layer2-node" width="(\d+)" height="(\d+)"', graph)
    assert sizes and all(int(w) > 0 and int(h) > 0 for w, h in sizes)  # the lineage graph is drawn


def test_the_run_report_opens_offline(reference, chromium):
    report = reference["root"] / "reports" / "nightly_report.html"
    page = report.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the report must not load anything"
    dom = chromium(report.as_uri())
    for title in ("Rows in and out of each layer", "Duplicates merged", "Enrichment match rate",
                  "Enrichment credits per run", "Segment sizes", "Test outcomes"):
        assert f"<h2>{title}</h2><div class=\"legend\">" in dom
    assert dom.count("<svg") >= 7
    run_id = state(reference["root"])["run_id"]
    assert f"Latest run {run_id}" in dom


def test_a_terminated_run_stops_dbt_and_is_recorded(reference, tmp_path):
    """SIGTERM (systemd stop, a scheduler's timeout) mid-dbt: dbt stops too, the run is on record."""
    root = tmp_path / "ws"
    shutil.copytree(reference["root"], root)
    run = subprocess.Popen([sys.executable, "-m", "tooling", "run"], cwd=REPO_ROOT,
                           env=environment(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    seen = []
    for line in run.stdout:  # the run echoes dbt's output: wait until dbt has built some nodes
        seen.append(line)
        if re.search(r"\d+ of \d+ (OK|PASS)", line) and "build_before_enrichment" in "".join(seen):
            break
    run.terminate()  # the run's own process only, as `kill <pid>` would
    out, err = run.communicate(timeout=300)
    assert run.returncode == 128 + 15, out[-2000:] + err[-2000:]
    warehouse = str(root / PATHS["CONTACTS_WAREHOUSE"])
    left = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("CONTACTS_WAREHOUSE") == warehouse:
                left.append(proc.cmdline())
        except psutil.Error:
            continue
    assert not left, f"still running after the run ended: {left}"
    run_id = state(root)["run_id"]
    assert state(root)["status"] == "incomplete"
    # recorded in the warehouse: dbt no longer held it when the run wrote there
    assert rows(root, f"select status from monitoring.nightly_runs where nightly_run_id = '{run_id}'") == \
        [("incomplete",)]
    assert rows(root, f"select step, status from monitoring.nightly_steps where nightly_run_id = '{run_id}' "
                      "order by step_order")[-1] == ("build_before_enrichment", "failed")
