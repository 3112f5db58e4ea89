"""The nightly run report: one static HTML page with charts over recent runs.

Written after every nightly run to REPORT_DIR/nightly_report.html, from the warehouse's
monitoring tables (nightly_runs, nightly_steps, pipeline_metrics, dbt_results). The
charts are inline SVG and the page has no script, font or style from elsewhere, so it
opens from file:// on a machine with no network and can be mailed as one file. It shows
counts and rates, never a contact's data.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingestion.pipelines import read_warehouse
from ingestion.settings import Settings, table_exists

REPORT_FILE = "nightly_report.html"
RECENT_RUNS = 30
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac"]
STATUS_COLOURS = {"pass": "#59a14f", "success": "#59a14f", "warn": "#edc948", "fail": "#e15759",
                  "error": "#b22222", "skipped": "#bab0ac"}
LAYERS = ["landing", "cleaned", "deduped", "enriched", "exported"]


@dataclass
class Chart:
    title: str
    svg: str
    note: str = ""


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if value != int(value):
        return f"{value:.2f}"
    return f"{value:.0f}"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 0.1
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _axes(labels: list[str], top: float, width: int, height: int, left: int, bottom: int) -> list[str]:
    parts = []
    plot_h = height - bottom - 10
    for i in range(5):
        y = 10 + plot_h * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
                     f'{_fmt(top * (4 - i) / 4)}</text>')
    n = len(labels)
    every = max(1, n // 8)
    for i, label in enumerate(labels):
        if i % every == 0 or i == n - 1:
            x = _x(i, n, width, left)
            parts.append(f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle" font-size="10">'
                         f'{html.escape(label)}</text>')
    return parts


def _x(i: int, n: int, width: int, left: int) -> float:
    plot_w = width - left - 20
    return left + 10 + (plot_w * (i + 0.5) / n if n else 0)


def _legend(names: list[str]) -> str:
    items = []
    for i, name in enumerate(names):
        colour = STATUS_COLOURS.get(name, PALETTE[i % len(PALETTE)])
        items.append(f'<span><i style="background:{colour}"></i>{html.escape(name)}</span>')
    return f'<div class="legend">{"".join(items)}</div>'


def line_chart(labels: list[str], series: dict[str, list[float | None]], width: int = 560, height: int = 220,
               percent: bool = False) -> str:
    """Lines over runs; a missing value breaks its line."""
    left, bottom = 64, 24
    values = [v for vs in series.values() for v in vs if v is not None]
    top = 1.0 if percent and values and max(values) <= 1 else _nice_max(max(values) if values else 0)
    plot_h = height - bottom - 10
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img">']
    parts += _axes(labels, top, width, height, left, bottom)
    for k, (name, vs) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        segment: list[str] = []
        segments = []
        for i, v in enumerate(vs):
            if v is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            x, y = _x(i, len(labels), width, left), 10 + plot_h * (1 - v / top)
            segment.append(f"{x:.1f},{y:.1f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}">'
                         f'<title>{html.escape(name)} {html.escape(labels[i])}: {_fmt(v)}</title></circle>')
        if segment:
            segments.append(segment)
        for points in segments:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(points)}"/>')
    parts.append("</svg>")
    return _legend(list(series)) + "".join(parts)


def bar_chart(labels: list[str], stacks: dict[str, list[float]], width: int = 560, height: int = 220) -> str:
    """Stacked bars, one per run; a series shorter than the runs (no metrics for the runs
    that failed before they were measured) counts 0 for the missing runs."""
    stacks = {name: [*vs, *[0.0] * (len(labels) - len(vs))] for name, vs in stacks.items()}
    left, bottom = 64, 24
    totals = [sum(vs[i] for vs in stacks.values()) for i in range(len(labels))]
    top = _nice_max(max(totals) if totals else 0)
    plot_h = height - bottom - 10
    n = len(labels)
    bar_w = max(4.0, (width - left - 20) / max(n, 1) * 0.7)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img">']
    parts += _axes(labels, top, width, height, left, bottom)
    for i in range(n):
        base = 0.0
        for k, (name, vs) in enumerate(stacks.items()):
            v = vs[i]
            if not v:
                continue
            colour = STATUS_COLOURS.get(name, PALETTE[k % len(PALETTE)])
            y = 10 + plot_h * (1 - (base + v) / top)
            h = plot_h * v / top
            parts.append(f'<rect x="{_x(i, n, width, left) - bar_w / 2:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                         f'height="{h:.1f}" fill="{colour}"><title>{html.escape(name)} {html.escape(labels[i])}: '
                         f'{_fmt(v)}</title></rect>')
            base += v
    parts.append("</svg>")
    return _legend(list(stacks)) + "".join(parts)


# --------------------------------------------------------------------- data ----

def _runs(con: duckdb.DuckDBPyConnection) -> list[dict]:
    rows = con.execute(f"""
        select nightly_run_id, started_at, status, seconds, peak_memory_mb, resumed_run_id
        from monitoring.nightly_runs order by started_at desc limit {RECENT_RUNS}""").fetchall()
    keys = ["run_id", "started_at", "status", "seconds", "peak_memory_mb", "resumed_run_id"]
    return [dict(zip(keys, r)) for r in reversed(rows)]


def _metric_series(con: duckdb.DuckDBPyConnection, run_ids: list[str], group: str, name: str
                   ) -> dict[str, list[float | None]]:
    if not run_ids or not table_exists(con, "monitoring", "pipeline_metrics"):
        return {}
    rows = con.execute("""
        select nightly_run_id, dimension, metric_value from monitoring.pipeline_metrics
        where metric_group = ? and metric_name = ? and nightly_run_id in (select unnest(?))
        qualify row_number() over (partition by nightly_run_id, dimension order by measured_at desc) = 1""",
                       [group, name, run_ids]).fetchall()
    by_dimension: dict[str, dict[str, float]] = {}
    for run_id, dimension, value in rows:
        by_dimension.setdefault(dimension, {})[run_id] = value
    return {d: [values.get(r) for r in run_ids] for d, values in sorted(by_dimension.items())}


def _test_outcomes(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> dict[str, list[float]]:
    if not run_ids or not table_exists(con, "monitoring", "dbt_results"):
        return {}
    rows = con.execute("""
        select nightly_run_id, status, count(*) from monitoring.dbt_results
        where resource_type in ('test', 'unit_test') and nightly_run_id in (select unnest(?))
        group by all""", [run_ids]).fetchall()
    stacks = {s: [0.0] * len(run_ids) for s in ("pass", "warn", "fail", "error", "skipped")}
    index = {r: i for i, r in enumerate(run_ids)}
    for run_id, status, n in rows:
        stacks.setdefault(status, [0.0] * len(run_ids))[index[run_id]] += n
    return {s: v for s, v in stacks.items() if any(v)}


def _steps(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> list[tuple]:
    return con.execute("""
        select nightly_run_id, step, status, seconds, counts_json, message, method, attempts, peak_memory_mb
        from monitoring.nightly_steps where nightly_run_id in (select unnest(?)) order by nightly_run_id, step_order
        """, [run_ids]).fetchall()


# --------------------------------------------------------------------- page ----

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 16px; margin: 0 0 6px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 18px; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 12px; }
.note { color: #666; font-size: 12px; }
.legend { font-size: 12px; display: flex; flex-wrap: wrap; gap: 4px 12px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
table { border-collapse: collapse; font-size: 13px; } td, th { padding: 3px 8px; border-bottom: 1px solid #eee; }
th { text-align: left; } td.num { text-align: right; }
.status-succeeded, .status-ok, .status-pass { color: #2e7d32; } .status-warned, .status-warn { color: #b8860b; }
.status-failed, .status-incomplete, .status-killed { color: #b22222; font-weight: bold; }
"""


def _table(headers: list[str], rows: list[list[object]], status_col: int | None = None) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr>"]
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            cls = "num" if isinstance(v, (int, float)) else ""
            if i == status_col:
                cls = f"status-{v}"
            text = _fmt(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else html.escape(str(v or ""))
            cells.append(f'<td class="{cls}">{text}</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(out) + "</table>"


def build_page(con: duckdb.DuckDBPyConnection, warehouse: Path) -> str:
    runs = _runs(con) if table_exists(con, "monitoring", "nightly_runs") else []
    run_ids = [r["run_id"] for r in runs]
    labels = [r["run_id"][4:13].replace("T", " ") for r in runs]  # MMDD HHMM
    charts: list[Chart] = []

    rows = _metric_series(con, run_ids, "volume", "rows")
    layers = {layer: rows[layer] for layer in LAYERS if layer in rows}
    quarantined = _metric_series(con, run_ids, "volume", "quarantined_rows").get("all")
    if quarantined:
        layers["quarantined"] = quarantined
    charts.append(Chart("Rows in and out of each layer", line_chart(labels, layers),
                        "landing: raw records; deduped and enriched: contacts; exported: rows of all campaign lists"))
    merged = _metric_series(con, run_ids, "dedupe", "duplicates_merged").get("all", [])
    charts.append(Chart("Duplicates merged", bar_chart(labels, {"records merged": [v or 0 for v in merged]}),
                        "records merged into another record's contact (cleaned records − contacts)"))
    match = _metric_series(con, run_ids, "enrichment", "match_rate")
    charts.append(Chart("Enrichment match rate", line_chart(labels, match, percent=True),
                        "share of answered requests that matched, per provider"))
    credits = _metric_series(con, run_ids, "enrichment", "credits_charged")
    per_run = {}
    for provider, values in credits.items():
        previous, spent = None, []
        for v in values:  # cumulative in the warehouse: each run's own credits are the difference
            spent.append(max(0.0, (v or 0) - (previous or 0)) if v is not None else 0.0)
            previous = v if v is not None else previous
        per_run[provider] = spent
    charts.append(Chart("Enrichment credits per run", bar_chart(labels, per_run), "credits charged, per provider"))
    charts.append(Chart("Segment sizes", line_chart(labels, _metric_series(con, run_ids, "segments", "segment_size")),
                        "members of each segment (before consent and e-mail checks)"))
    charts.append(Chart("Test outcomes", bar_chart(labels, _test_outcomes(con, run_ids)),
                        "dbt data and unit tests of each run, by status"))
    steps = _steps(con, run_ids) if run_ids and table_exists(con, "monitoring", "nightly_steps") else []
    durations: dict[str, list[float]] = {}
    index = {r: i for i, r in enumerate(run_ids)}
    for run_id, step, _status, seconds, *_ in steps:
        durations.setdefault(step, [0.0] * len(run_ids))[index[run_id]] += seconds or 0
    charts.append(Chart("Seconds per step", bar_chart(labels, durations), "wall-clock time of each step"))

    latest = runs[-1] if runs else None
    latest_steps = [s for s in steps if latest and s[0] == latest["run_id"]]
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Nightly contact batch – run report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Nightly contact batch</h1>",
        f"<p class='note'>Generated {generated} from {html.escape(str(warehouse))}; "
        f"the last {len(runs)} run(s).</p>",
    ]
    if latest:
        parts.append(f"<h2>Latest run {html.escape(latest['run_id'])}: "
                     f"<span class='status-{latest['status']}'>{html.escape(latest['status'])}</span> "
                     f"in {_fmt(latest['seconds'])} s</h2>")
        parts.append(_table(["step", "status", "how", "attempts", "seconds", "peak MB", "counts", "message"],
                            [[s[1], s[2], s[6], s[7], s[3], s[8],
                              ", ".join(f"{k} {v:,}" for k, v in json.loads(s[4] or "{}").items() if v), s[5]]
                             for s in latest_steps], status_col=1))
    else:
        parts.append("<p>No nightly run has been recorded yet.</p>")
    parts.append("<h2 style='margin-top:18px'>Recent runs</h2><div class='grid'>")
    for chart in charts:
        parts.append(f"<div class='card'><h2>{html.escape(chart.title)}</h2>{chart.svg}"
                     f"<div class='note'>{html.escape(chart.note)}</div></div>")
    parts.append("</div><h2 style='margin-top:18px'>Runs</h2>")
    parts.append(_table(["run", "started (UTC)", "status", "seconds", "peak MB", "resumed"],
                        [[r["run_id"], str(r["started_at"])[:19], r["status"], r["seconds"], r["peak_memory_mb"],
                          r["resumed_run_id"]] for r in reversed(runs)], status_col=2))
    parts.append("<p class='note'>Details: monitoring.nightly_steps, monitoring.dbt_results and "
                 "monitoring.pipeline_metrics in the warehouse; failing tests' rows in schema test_failures.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def report_path(settings: Settings) -> Path:
    return settings.report_dir / REPORT_FILE


def write_report(settings: Settings) -> Path:
    """Write REPORT_DIR/nightly_report.html; returns its path."""
    settings.report_dir.mkdir(parents=True, exist_ok=True)
    with read_warehouse(settings) as con:
        if con is None:
            raise FileNotFoundError(f"no warehouse at {settings.warehouse}")
        page = build_page(con, settings.warehouse)
    path = report_path(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
