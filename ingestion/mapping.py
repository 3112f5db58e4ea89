"""Map a parsed file's headers onto canonical contact fields and split off rows without identity."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import yaml

from ingestion.readers import LINE_NUMBER, ROW_NUMBER, ParsedFile

# The canonical contact fields, in the order the raw table holds them.
CANONICAL_FIELDS = [
    "source_record_id", "source_system", "salutation", "first_name", "last_name", "full_name",
    "email", "phone", "company", "company_website", "job_title", "street", "street2", "city",
    "state", "postal_code", "country", "opted_out", "updated_at",
]
IDENTITY_FIELDS = ["email", "phone", "first_name", "last_name", "full_name"]
NO_IDENTITY = "no_identity"


def normalise_header(name: str) -> str:
    """'Mailing Zip/Postal Code' -> 'mailing_zip_postal_code'; accents dropped."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "_", folded).strip("_")


@dataclass(frozen=True)
class HeaderAliases:
    """normalised header -> canonical field."""

    lookup: dict[str, str]

    @classmethod
    def from_file(cls, path: Path) -> HeaderAliases:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        fields = config.get("fields") or {}
        unknown = set(fields) - set(CANONICAL_FIELDS)
        if unknown:
            raise ValueError(f"{path}: unknown canonical field(s) {sorted(unknown)}; "
                             f"known fields are {CANONICAL_FIELDS}")
        lookup: dict[str, str] = {f: f for f in CANONICAL_FIELDS}
        for canonical, aliases in fields.items():
            for alias in aliases or []:
                key = normalise_header(str(alias))
                if lookup.get(key, canonical) != canonical:
                    raise ValueError(f"{path}: alias '{alias}' is listed under both "
                                     f"'{lookup[key]}' and '{canonical}'")
                lookup[key] = canonical
        return cls(lookup)

    def map_headers(self, headers: list[str]) -> tuple[dict[str, str], list[str]]:
        """Returns {canonical field: file header} and the headers left over (kept as extras)."""
        mapping: dict[str, str] = {}
        extras: list[str] = []
        for header in headers:
            canonical = self.lookup.get(normalise_header(header))
            if canonical and canonical not in mapping:
                mapping[canonical] = header
            else:
                extras.append(header)
        return mapping, extras


def source_system_from_file_name(name: str) -> str | None:
    """'hubspot__contacts_2026-11-24.csv' -> 'hubspot'; None without a '<source>__' prefix."""
    stem = name.split(".", 1)[0]
    if "__" not in stem:
        return None
    source = normalise_header(stem.split("__", 1)[0])
    return source or None


@dataclass
class MappedFile:
    contacts: pa.Table
    quarantined: list[tuple[int, int | None, str, str, str]]  # row, line, code, reason, raw text
    column_mapping: dict[str, str]
    extra_columns: list[str]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def map_file(parsed: ParsedFile, aliases: HeaderAliases, file_source: str | None) -> MappedFile:
    """Canonical columns (all text) + extra_fields JSON; rows with no identity go to quarantine."""
    mapping, extras = aliases.map_headers(parsed.headers)
    selects = []
    for f in CANONICAL_FIELDS:
        if f == "source_system":
            column = f"nullif(trim({_ident(mapping[f])}), '')" if f in mapping else "null"
            fallback = _lit(file_source) if file_source else "'unknown'"
            selects.append(f"coalesce({column}, {fallback}) as source_system")
        elif f in mapping:
            selects.append(f"{_ident(mapping[f])} as {f}")
        else:
            selects.append(f"cast(null as varchar) as {f}")
    if extras:
        pairs = ", ".join(f"{_lit(h)}, {_ident(h)}" for h in extras)
        selects.append(f"cast(json_object({pairs}) as varchar) as extra_fields")
    else:
        selects.append("cast(null as varchar) as extra_fields")
    has_identity = " or ".join(
        f"coalesce(trim({_ident(mapping[f])}), '') <> ''" for f in IDENTITY_FIELDS if f in mapping) or "false"
    selects.append(f"({has_identity}) as __has_identity")
    selects.append(f"{ROW_NUMBER}, {LINE_NUMBER}")

    indexed = parsed.table.append_column("__index", pa.array(np.arange(parsed.table.num_rows), pa.int64()))
    con = duckdb.connect()
    try:
        con.register("parsed", indexed)
        con.execute(f"create temp table mapped as select {', '.join(selects)}, __index from parsed")
        keep = con.sql("select * exclude (__has_identity, __index) from mapped where __has_identity "
                       "order by __index").to_arrow_table()
        missing = con.sql("select __index from mapped where not __has_identity order by __index").fetchall()
    finally:
        con.close()

    quarantined = []
    if missing:
        table = parsed.table
        for (index,) in missing:
            values = {h: table.column(h)[index].as_py() for h in parsed.headers}
            quarantined.append((
                table.column(ROW_NUMBER)[index].as_py(),
                table.column(LINE_NUMBER)[index].as_py(),
                NO_IDENTITY,
                "no identity: the row has no email, phone or name",
                parsed.raw_text(index, values),
            ))
    return MappedFile(keep, quarantined, mapping, extras)
