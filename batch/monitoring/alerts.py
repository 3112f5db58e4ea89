"""Alerts: a Slack-compatible JSON message to a webhook when a nightly run failed or degraded,
and a heartbeat ping when it ends.

The URL comes from NIGHTLY_ALERT_WEBHOOK_URL or `[alerts] webhook_url` in
.dlt/secrets.toml; it is a secret and never printed. A run alerts when it failed, when a
step degraded the night (a data-quality warning, a provider unreachable or rejecting its
key, an enrichment backlog, a landing folder missing or empty for several nights, a run
that could not be recorded), and when it finds the previous run was killed.
NIGHTLY_ALERT_ON_WARNINGS=1 (or `run --alert-on-warnings`) alerts on every warning. The
message says what happened and what to do, and where to look (the report, the audit
tables); it carries names of models, tests and files, never a contact's data.

The heartbeat (NIGHTLY_HEARTBEAT_URL or `[alerts] heartbeat_url`, healthchecks-style) is
pinged when a run ends: the URL itself when the run succeeded or warned, `<url>/fail`
when it failed. The monitoring service raises the alarm when no ping comes: the night
that cron did not run at all, or the machine was down.
"""

from __future__ import annotations

import logging
import os
import sys
import time

import dlt
import requests

from ingestion.settings import Settings

log = logging.getLogger(__name__)

WEBHOOK_ENV = "NIGHTLY_ALERT_WEBHOOK_URL"
HEARTBEAT_ENV = "NIGHTLY_HEARTBEAT_URL"
ICONS = {"failed": ":x:", "incomplete": ":x:", "warned": ":warning:", "killed": ":x:"}


def _secret(env: str, key: str) -> str | None:
    url = os.environ.get(env)
    if url:
        return url
    try:
        return dlt.secrets.get(key)
    except Exception:  # noqa: BLE001 - no secrets file, or no such key
        return None


def webhook_url() -> str | None:
    return _secret(WEBHOOK_ENV, "alerts.webhook_url")


def heartbeat_url() -> str | None:
    return _secret(HEARTBEAT_ENV, "alerts.heartbeat_url")


def build_message(settings: Settings, run, killed=None) -> dict:  # noqa: ANN001 - nightly.RunRecord
    """The Slack message (text for notifications, blocks for the body) about `run`.

    `killed`: the previous run, when it was killed (nobody was told then).
    """
    headline = (f"{ICONS.get(run.status, '')} Nightly contact batch {run.status}: run {run.run_id} on {run.host} "
                f"({run.seconds:.0f}s)").strip()
    lines = []
    if killed is not None:
        killed_in = next((s.step for s in killed.steps if s.status == "killed"), "?")
        lines.append(f"The previous run {killed.run_id} was killed during *{killed_in}*; this run resumed it.")
    lines += [f"*{problem}*" for problem in run.problems]
    for step in run.steps:
        if step.status in ("failed", "warn", "killed"):
            lines.append(f"*{step.step}* {step.status}: {step.message}".rstrip(": "))
            for problem in step.problems[:15]:
                detail = f" ({problem['failures']} rows)" if problem.get("failures") else ""
                shown = problem.get("relation") and problem["status"] != "error"
                where = f" → `{problem['relation']}`" if shown else ""
                lines.append(f"  • {problem['status']}: `{problem['node']}`{detail}{where}")
            if len(step.problems) > 15:
                lines.append(f"  • … and {len(step.problems) - 15} more")
    skipped = [s.step for s in run.steps if s.status == "skipped" and s.message.startswith("not run")]
    if skipped:
        lines.append(f"Not run: {', '.join(skipped)} (the campaign exports were not replaced)"
                     if "export" in skipped else f"Not run: {', '.join(skipped)}")
    where = [f"warehouse `{settings.warehouse}`",
             f"`select * from monitoring.dbt_results where nightly_run_id = '{run.run_id}'`",
             f"`select * from monitoring.nightly_steps where nightly_run_id = '{run.run_id}'`"]
    if run.report_path:
        where.insert(0, f"report `{run.report_path}`")
    body = "\n".join(lines) or "No step failed."
    first = next((line for line in lines if not line.startswith("  ")), "")
    return {
        # what a notification shows: the headline and the first thing that went wrong
        "text": f"{headline} | {first.replace('*', '')}"[:300] if first else headline,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": headline[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body[:2900]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "Where to look: " + "; ".join(where)}]},
        ],
    }


def post(url: str, message: dict, attempts: int = 3, timeout: float = 10.0) -> bool:
    """POST the message; a few attempts, never an exception (an alert must not fail the run)."""
    for attempt in range(1, attempts + 1):
        try:
            response = requests.post(url, json=message, timeout=timeout)
            if response.status_code < 300:
                return True
            log.warning("alert webhook answered HTTP %s (attempt %d)", response.status_code, attempt)
        except requests.RequestException as exc:
            log.warning("alert webhook unreachable (attempt %d): %s", attempt, type(exc).__name__)
        time.sleep(min(2 ** attempt, 10) if attempt < attempts else 0)
    return False


def alert_for(settings: Settings, run, on_warnings: bool = False, killed=None) -> bool | None:  # noqa: ANN001
    """Send the alert `run` (a RunRecord) calls for; None when it calls for none or no webhook is set."""
    degraded = bool(run.problems) or any(s.alert for s in run.steps)
    quiet = run.status == "succeeded" or (run.status == "warned" and not on_warnings)
    if quiet and not degraded and killed is None:
        return None
    url = webhook_url()
    if not url:
        return None
    sent = post(url, build_message(settings, run, killed))
    print("Alert sent to the webhook." if sent else "The alert could not be delivered (see the log).",
          file=sys.stdout if sent else sys.stderr)
    return sent


def ping_heartbeat(run) -> bool | None:  # noqa: ANN001 - nightly.RunRecord
    """Ping the heartbeat URL: itself when the run succeeded or warned, `<url>/fail` otherwise.
    None when no heartbeat is configured; never an exception."""
    url = heartbeat_url()
    if not url:
        return None
    ok = run.status in ("succeeded", "warned")
    try:
        response = requests.get(url if ok else url.rstrip("/") + "/fail", timeout=10)
        if response.status_code < 300:
            return True
        log.warning("heartbeat answered HTTP %s", response.status_code)
    except requests.RequestException as exc:
        log.warning("heartbeat unreachable: %s", type(exc).__name__)
    print("The heartbeat could not be pinged (see the log).", file=sys.stderr)
    return False
