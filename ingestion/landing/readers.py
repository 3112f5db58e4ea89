"""Turn one landing file into string columns, row/line numbers and rejected rows.

CSV is parsed by DuckDB (multi-threaded, with a rejects table that gives the
line and raw text of every row it cannot parse); JSONL line by line, because a
bad line must be reported, not skipped; Parquet by pyarrow. Every value is kept
as text, exactly as the file had it: typing is the staging models' job.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
SUPPORTED_SUFFIXES = CSV_SUFFIXES | JSONL_SUFFIXES | PARQUET_SUFFIXES
DELIMITERS = [",", ";", "\t", "|"]
ROW_NUMBER = "__row_number"
LINE_NUMBER = "__line_number"
RAW_TEXT = "__raw_text"      # JSONL: the line itself
RAW_START = "__raw_start"    # CSV: byte span of the record, decoded only when needed
RAW_END = "__raw_end"


class UnreadableFile(Exception):
    """The file as a whole cannot be read; the message says why, for the load log."""


@dataclass
class Reject:
    line_number: int | None
    row_number: int | None
    reason_code: str
    reason: str
    raw_text: str


@dataclass
class ParsedFile:
    """All rows that parsed, as text columns named by the file's headers."""

    file_format: str
    headers: list[str]
    table: pa.Table                      # headers + ROW_NUMBER, LINE_NUMBER and raw-text columns
    rejects: list[Reject] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    data: bytes | None = None            # CSV bytes, for RAW_START/RAW_END spans

    def raw_text(self, row_index: int, headers_values: dict[str, str | None]) -> str:
        """The row as the file had it: its bytes for CSV, its line for JSONL, JSON for Parquet."""
        names = self.table.column_names
        if RAW_TEXT in names:
            return self.table.column(RAW_TEXT)[row_index].as_py()
        if RAW_START in names and self.data is not None:
            start = self.table.column(RAW_START)[row_index].as_py()
            end = self.table.column(RAW_END)[row_index].as_py()
            if start is not None:
                return self.data[start:end].decode(self.encoding or "utf-8", errors="replace")
        return json.dumps(headers_values, ensure_ascii=False)

    @property
    def rows_read(self) -> int:
        return self.table.num_rows + len(self.rejects)


def read_file(path: Path, data: bytes) -> ParsedFile:
    """Parse `data` (the bytes of `path`) according to the file's suffix."""
    suffix = path.suffix.lower()
    if not data:
        raise UnreadableFile("the file is empty (0 bytes): no header row")
    if suffix in CSV_SUFFIXES:
        return read_csv(path, data)
    if suffix in JSONL_SUFFIXES:
        return read_jsonl(data)
    if suffix in PARQUET_SUFFIXES:
        return read_parquet(path)
    raise UnreadableFile(
        f"unsupported file type '{suffix or path.name}': expected one of "
        + ", ".join(sorted(SUPPORTED_SUFFIXES)))


# --------------------------------------------------------------------- CSV --

def detect_encoding(data: bytes) -> str:
    """UTF-8 when the bytes decode as UTF-8, otherwise Latin-1 (which always decodes)."""
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "latin-1"


def _decode(data: bytes, encoding: str) -> str:
    text = data.decode(encoding)
    return text[1:] if text.startswith("\ufeff") else text


def detect_delimiter(header_line: str) -> str:
    """The candidate delimiter that splits the header line most often (comma on a tie)."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
    return best if counts[best] else ","


def _unique_headers(raw: list[str]) -> list[str]:
    """Blank headers become column_<n>; repeated ones get _2, _3 ... so no column is dropped."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(raw, start=1):
        name = name.strip() or f"column_{i}"
        key = name.lower()
        if key in seen:
            seen[key] += 1
            name = f"{name}_{seen[key]}"
        else:
            seen[key] = 1
        out.append(name)
    return out


@dataclass
class _RecordIndex:
    """Where each CSV record starts and ends, from one vectorised pass over the bytes."""

    start_lines: np.ndarray   # 1-based physical line of each non-blank record
    logical_lines: np.ndarray # DuckDB's reject-table `line`: newlines outside quotes before it, + 1
    starts: np.ndarray        # byte offset of each record
    ends: np.ndarray          # byte offset just past each record (newline excluded)


def index_records(data: bytes) -> _RecordIndex:
    """Split bytes into records at newlines outside double quotes.

    RFC 4180 escapes a quote by doubling it, which keeps the parity of the
    quote count, so a newline ends a record when an even number of quotes
    precedes it. Blank lines are not records (DuckDB skips them too).
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(arr == 10)
    quotes = np.flatnonzero(arr == 34)
    quotes_before = np.searchsorted(quotes, newlines)
    boundary_idx = np.flatnonzero(quotes_before % 2 == 0)      # indices into `newlines`
    ends = newlines[boundary_idx]
    starts = np.concatenate(([0], ends + 1))
    end_all = np.concatenate((ends, [len(data)]))
    start_lines = np.concatenate(([1], boundary_idx + 2))
    # strip '\r' of CRLF files from the record end
    cr = np.zeros(len(end_all), dtype=bool)
    nonempty = end_all > starts
    cr[nonempty] = arr[end_all[nonempty] - 1] == 13
    end_all = end_all - cr
    logical_lines = np.arange(1, len(starts) + 1)
    keep = end_all > starts
    return _RecordIndex(start_lines[keep], logical_lines[keep], starts[keep], end_all[keep])


def read_csv(path: Path, data: bytes) -> ParsedFile:
    encoding = detect_encoding(data)
    text_head = data[:65_536].decode(encoding, errors="ignore").lstrip("\ufeff")
    first_line = text_head.split("\n", 1)[0].rstrip("\r")
    delimiter = detect_delimiter(first_line)
    try:
        raw_headers = next(csv.reader(io.StringIO(text_head), delimiter=delimiter))
    except StopIteration as exc:
        raise UnreadableFile("no header row") from exc
    headers = _unique_headers(raw_headers)

    records = index_records(data)
    if len(records.starts) == 0:
        raise UnreadableFile("no header row")
    # the first record is the header
    data_lines = records.start_lines[1:]
    data_logical = records.logical_lines[1:]
    data_starts, data_ends = records.starts[1:], records.ends[1:]

    columns_sql = "{" + ", ".join(f"'{_sql_str(h)}': 'VARCHAR'" for h in headers) + "}"
    con = duckdb.connect()
    try:
        con.execute("set preserve_insertion_order = true")
        query = (
            f"select * from read_csv('{_sql_str(str(path))}', header = true, auto_detect = false, "
            f"columns = {columns_sql}, delim = '{_sql_str(delimiter)}', quote = '\"', escape = '\"', "
            f"encoding = '{encoding}', strict_mode = true, store_rejects = true, "
            f"rejects_table = 'csv_rejects', rejects_scan = 'csv_scans', max_line_size = 10000000)")
        table = con.sql(query).to_arrow_table()
        reject_rows = con.sql(
            "select line, string_agg(distinct error_type || ': ' || error_message, '; ') as reason, "
            "any_value(csv_line) as csv_line from csv_rejects group by line order by line").fetchall()
    except duckdb.Error as exc:
        raise UnreadableFile(f"CSV could not be parsed: {str(exc).splitlines()[0]}") from exc
    finally:
        con.close()

    # DuckDB names a rejected row by its logical line (quoted newlines not counted)
    rejected = np.array([int(r[0]) for r in reject_rows], dtype=np.int64)
    accepted = ~np.isin(data_logical, rejected)
    row_numbers = np.arange(1, len(data_lines) + 1)
    rejects: list[Reject] = []
    for line, reason, csv_line in reject_rows:
        i = int(np.searchsorted(data_logical, int(line)))  # logical lines are sorted
        if i >= len(data_logical) or data_logical[i] != int(line):
            rejects.append(Reject(None, None, "malformed_row", reason, (csv_line or "").strip()))
            continue
        raw = _decode(data[data_starts[i]:data_ends[i]], encoding)
        rejects.append(Reject(int(data_lines[i]), int(row_numbers[i]), "malformed_row", reason, raw))

    if int(accepted.sum()) == table.num_rows:
        rows = row_numbers[accepted]
        lines = pa.array(data_lines[accepted], pa.int64())
        starts = pa.array(data_starts[accepted], pa.int64())
        ends = pa.array(data_ends[accepted], pa.int64())
    else:  # the byte scan and DuckDB disagree: keep every row, without line numbers
        rows = np.arange(1, table.num_rows + 1)
        lines = starts = ends = pa.nulls(table.num_rows, pa.int64())
    table = table.append_column(ROW_NUMBER, pa.array(rows, pa.int64()))
    table = table.append_column(LINE_NUMBER, lines)
    table = table.append_column(RAW_START, starts)
    table = table.append_column(RAW_END, ends)
    return ParsedFile("csv", headers, table, rejects, encoding=encoding, delimiter=delimiter, data=data)


def _sql_str(value: str) -> str:
    return value.replace("'", "''")


# ------------------------------------------------------------------- JSONL --

def _to_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def read_jsonl(data: bytes) -> ParsedFile:
    encoding = detect_encoding(data)
    text = _decode(data, encoding)
    columns: dict[str, list[str | None]] = {}
    rows: list[int] = []
    lines: list[int] = []
    raws: list[str] = []
    rejects: list[Reject] = []
    n = 0
    for line_number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        n += 1
        try:
            doc = json.loads(line)
        except ValueError as exc:
            rejects.append(Reject(line_number, n, "invalid_json", f"invalid JSON: {exc}", line))
            continue
        if not isinstance(doc, dict):
            rejects.append(Reject(line_number, n, "not_an_object",
                                  f"a JSON {type(doc).__name__} where an object was expected", line))
            continue
        k = len(rows)
        for key, value in doc.items():
            col = columns.get(key)
            if col is None:
                col = columns[key] = [None] * k
            col.append(_to_text(value))
        rows.append(n)
        lines.append(line_number)
        raws.append(line)
        for col in columns.values():
            if len(col) < k + 1:
                col.append(None)
    headers = _unique_headers(list(columns))
    arrays = {h: pa.array(columns[key], pa.string()) for h, key in zip(headers, columns)}
    arrays[ROW_NUMBER] = pa.array(rows, pa.int64())
    arrays[LINE_NUMBER] = pa.array(lines, pa.int64())
    arrays[RAW_TEXT] = pa.array(raws, pa.string())
    return ParsedFile("jsonl", headers, pa.table(arrays), rejects, encoding=encoding)


# ----------------------------------------------------------------- Parquet --

def _column_as_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return col.cast(pa.string())
    if pa.types.is_boolean(t):
        return pc.if_else(col, "true", "false")
    if pa.types.is_timestamp(t) and t.tz is not None:
        return pc.strftime(col, format="%Y-%m-%dT%H:%M:%S%z")
    if pa.types.is_nested(t) or pa.types.is_binary(t):
        return pa.chunked_array([pa.array([_to_text(x) for x in col.to_pylist()], pa.string())])
    return col.cast(pa.string())


def read_parquet(path: Path) -> ParsedFile:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise UnreadableFile(f"Parquet could not be read: {exc}") from exc
    headers = _unique_headers(table.column_names)
    arrays = {h: _column_as_text(table.column(i)) for i, h in enumerate(headers)}
    arrays[ROW_NUMBER] = pa.array(np.arange(1, table.num_rows + 1), pa.int64())
    arrays[LINE_NUMBER] = pa.nulls(table.num_rows, pa.int64())
    return ParsedFile("parquet", headers, pa.table(arrays))
