"""Plain words for the failures an operator meets: what happened and what to do.

The nightly run, its alerts and the command line turn an exception or a tool's output
into one line with this module, instead of a traceback (`-v` still logs the traceback).
"""

from __future__ import annotations

import re

LOCKED = re.compile(r'could not set lock on file "?(?P<file>[^":]+)"?.*?conflicting lock is held in '
                    r'(?P<program>\S+)(?: \(PID (?P<pid>\d+)\))?', re.IGNORECASE | re.DOTALL)
LOCKED_SHORT = re.compile(r"could not set lock|conflicting lock|database is locked", re.IGNORECASE)
READ_ONLY = re.compile(r"read-only file system|permission denied|not a directory|cannot open file", re.IGNORECASE)


def explain(text: str) -> str | None:
    """One line for a known failure in `text` (an error message or a tool's output), else None."""
    match = LOCKED.search(text)
    if match:
        holder = match["program"] + (f" (pid {match['pid']})" if match["pid"] else "")
        return (f"the warehouse is locked by another process, {holder}: close that DuckDB session (a notebook, "
                "a SQL client, `duckdb` in a shell) and the next run carries on")
    if LOCKED_SHORT.search(text):
        return ("the warehouse is locked by another process: close other DuckDB sessions on it and the next run "
                "carries on")
    if READ_ONLY.search(text):
        return ("the warehouse or its folder cannot be written (read-only, permissions, or not a folder): check "
                "CONTACTS_WAREHOUSE and the folder's mount and permissions")
    return None


def one_line(exc: BaseException) -> str:
    """An exception as one line: the explanation when known, else its type and first line."""
    text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else ""
    return explain(text) or f"{type(exc).__name__}: {first[:300]}".rstrip(": ")
