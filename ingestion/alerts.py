"""Alerts: a Slack-compatible JSON message to a webhook when a nightly run failed.

The URL comes from NIGHTLY_ALERT_WEBHOOK_URL or `[alerts] webhook_url` in
.dlt/secrets.toml; it is a secret and never printed. NIGHTLY_ALERT_ON_WARNINGS=1 (or
`run --alert-on-warnings`) alerts also when the run only warned. The message says what
failed (steps, dbt nodes, unreadable files) and where to look (the report, the audit
tables); it carries names of models, tests and files, never a contact's data.
"""

from __future__ import annotations

import logging
import os
import sys
import time

import requests

from ingestion.settings import Settings

log = logging.getLogger(__name__)

WEBHOOK_ENV = "NIGHTLY_ALERT_WEBHOOK_URL"
ICONS = {"failed": ":x:", "incomplete": ":x:", "warned": ":warning:", "killed": ":x:"}


def webhook_url() -> str | None:
    url = os.environ.get(WEBHOOK_ENV)
    if url:
        return url
    try:
        import dlt

        return dlt.secrets.get("alerts.webhook_url")
    except Exception:  # noqa: BLE001 - no secrets file, or no such key
        return None


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
    for step in run.steps:
        if step.status in ("failed", "warn", "killed"):
            lines.append(f"*{step.step}* {step.status}: {step.message}".rstrip(": "))
            for problem in step.problems[:15]:
                detail = f" ({problem['failures']} rows)" if problem.get("failures") else ""
                where = f" → `{problem['relation']}`" if problem.get("relation") and problem["status"] != "error" else ""
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
    return {
        "text": headline,
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
    quiet = run.status == "succeeded" or (run.status == "warned" and not on_warnings)
    if quiet and killed is None:
        return None
    url = webhook_url()
    if not url:
        return None
    sent = post(url, build_message(settings, run, killed))
    print("Alert sent to the webhook." if sent else "The alert could not be delivered (see the log).",
          file=sys.stdout if sent else sys.stderr)
    return sent
