"""Accuracy of the cleaned and deduped layers against the demo generator's ground truth.

`contacts-demo accuracy` (and `make bench`) join `cleaned.cleaned_contacts` to
GROUND_TRUTH_DIR/records.parquet on (source system, source record id) and print, per
field, how many records the cleaned value gets right:

- email: valid addresses equal the true address; invalid ones are flagged invalid
  (records whose export had an email);
- phone: valid numbers equal the true E.164; invalid ones are flagged invalid
  (records whose export had a phone);
- country: the ISO code equals the true country (records whose export named a country);
- street_suffix: the USPS suffix equals the true one (US records with a street);
- street_address: the whole street line equals its USPS Publication 28 form (US records with
  a street: no house number, grid and hyphenated numbers, post-directionals, every C1 suffix);
- street_unit: the unit equals its Publication 28 form (STE 400, FL 2, UNIT 5, BSMT), or both
  are empty (US records with a street);
- city: one case for a city whatever the export's ("CHICAGO" -> "Chicago"; records whose city
  is the true city's name in any case);
- state: the state or province code equals the true one (records that name a state);
- postal_code: the formatted code equals the true one (records with a postal code);
- company_domain: the company domain equals the true one (records where one was found);
- seniority: the level read from the job title equals the true one (records with a title);
  a title that names no level leaves it unknown, for the providers to supply, which is
  right for an entry-level person (their titles name none) and wrong for anyone else.

The deduped layer is scored by pairs: see measure_duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from batch.console import render_table

TARGETS = {"email": 0.995, "country": 0.995, "phone": 0.99, "street_suffix": 0.99, "street_address": 0.99,
           "street_unit": 0.99, "city": 0.995, "state": 0.995, "postal_code": 0.995, "company_domain": 0.98,
           "seniority": 0.95}

CHECKS = {
    "email": ("truth.email_is_valid is not null",
              "case when truth.email_is_valid then cleaned.is_email_valid and cleaned.email_address = truth.true_email "
              "else not cleaned.is_email_valid end"),
    "phone": ("truth.phone_is_valid is not null",
              "case when truth.phone_is_valid "
              "then cleaned.is_phone_valid and cleaned.phone_e164 = truth.true_phone_e164 "
              "else not cleaned.is_phone_valid end"),
    # the country field's own spelling must map to the true code (an inferred country does not count)
    "country": ("nullif(trim(cleaned.country_original), '') is not null",
                "coalesce(cleaned.country_code_source = 'country_field' "
                "and cleaned.country_code = truth.true_country_code, false)"),
    "street_suffix": ("truth.true_street_suffix is not null and cleaned.street_line_1_original is not null",
                      "coalesce(cleaned.street_suffix = truth.true_street_suffix, false)"),
    "street_address": ("truth.true_street_address is not null and cleaned.street_line_1_original is not null "
                       "and cleaned.country_code = 'US'",
                       "coalesce(cleaned.street_address = truth.true_street_address, false)"),
    "street_unit": ("truth.true_street_address is not null and cleaned.street_line_1_original is not null "
                    "and cleaned.country_code = 'US'",
                    "cleaned.street_unit is not distinct from truth.true_street_unit"),
    "city": ("lower(cleaned.city_original) = lower(truth.true_city)",
             "coalesce(cleaned.city = truth.true_city, false)"),
    "state": ("truth.true_state_code is not null and cleaned.state_original is not null",
              "coalesce(cleaned.state_code = truth.true_state_code, false)"),
    "postal_code": ("cleaned.postal_code_original is not null",
                    "coalesce(cleaned.postal_code = truth.true_postal_code, false)"),
    "company_domain": ("cleaned.company_domain is not null and not cleaned.is_role_email",
                       "cleaned.company_domain = truth.true_company_domain"),
    "seniority": ("cleaned.job_title is not null",
                  "coalesce(cleaned.seniority = truth.true_seniority, "
                  "cleaned.seniority is null and truth.true_seniority = 'entry', false)"),
}


@dataclass
class FieldAccuracy:
    field: str
    records: int
    correct: int
    target: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.records if self.records else 0.0

    @property
    def meets_target(self) -> bool:
        return self.records > 0 and self.accuracy >= self.target


def measure(warehouse: Path, truth_dir: Path) -> list[FieldAccuracy]:
    """Every field scored in one pass over the cleaned table joined to the truth."""
    truth = (truth_dir / "records.parquet").as_posix().replace("'", "''")
    counts = ",\n".join(
        f"count(*) filter (where {scope}), count(*) filter (where ({scope}) and ({correct}))"
        for scope, correct in CHECKS.values())
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        row = con.execute(f"""
            select {counts}
            from cleaned.cleaned_contacts as cleaned
            inner join read_parquet('{truth}') as truth
                on cleaned.source_system = truth.source_system
                and cleaned.source_record_id = truth.source_record_id""").fetchone()
    finally:
        con.close()
    return [FieldAccuracy(field, row[2 * i], row[2 * i + 1], TARGETS[field]) for i, field in enumerate(CHECKS)]


def render(results: list[FieldAccuracy]) -> str:

    return render_table(["field", "records", "correct", "accuracy", "target", "met"],
                        [[r.field, r.records, r.correct, f"{r.accuracy:.2%}", f"{r.target:.1%}",
                          "yes" if r.meets_target else "NO"] for r in results])


# ------------------------------------------------------------ duplicates ----
#
# Pairwise quality of the deduped layer: every two source records of one true person is
# a true pair, every two records sharing a contact_id a predicted pair. Precision counts
# colleague non-matches (same company, office, switchboard) like any other wrong merge.
# Per kind of duplicate, recall is over the true pairs where either record carries that
# kind (a record can carry several). "no shared identifier" counts the true pairs whose
# records share neither an email address, a phone number nor a company: the old-job
# record of a job change that carries only the person's name. Without a shared
# identifier a name alone, with ~100 namesakes per name in the demo, cannot tell.

DEDUPE_TARGETS = {"precision": 0.99, "recall": 0.95}


@dataclass
class PairQuality:
    scope: str
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float | None:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else None

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 0.0


def measure_duplicates(warehouse: Path, truth_dir: Path) -> list[PairQuality]:
    """Pairwise precision and recall overall, per duplicate kind, and for unresolvable pairs."""
    truth = (truth_dir / "records.parquet").as_posix().replace("'", "''")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute(f"""
            create temp table scored as
            select truth.person_id, truth.duplicate_kinds, identity.contact_id,
                   records.email_key, records.phone_e164, records.company_match_key
            from deduped.contact_identity_map as identity
            inner join deduped.deduped_match_records as records using (contact_record_id)
            inner join read_parquet('{truth}') as truth
                on identity.source_system = truth.source_system
                and identity.source_record_id = truth.source_record_id""")
        # pair counts from group sizes: no quadratic self-join for the overall figures
        true_pairs, predicted, correct = con.execute("""
            select
                (select sum(n * (n - 1) / 2) from (select count(*) as n from scored group by person_id)),
                (select sum(n * (n - 1) / 2) from (select count(*) as n from scored group by contact_id)),
                (select sum(n * (n - 1) / 2) from (select count(*) as n from scored group by person_id, contact_id))
        """).fetchone()
        results = [PairQuality("all pairs", int(true_pairs or 0), int(predicted or 0), int(correct or 0))]
        # per kind: true pairs only (a person has at most six records)
        rows = con.execute("""
            with pairs as (
                select a.contact_id = b.contact_id as found,
                       list_distinct(a.duplicate_kinds || b.duplicate_kinds) as kinds,
                       coalesce(a.email_key = b.email_key, false) or coalesce(a.phone_e164 = b.phone_e164, false)
                       or coalesce(a.company_match_key = b.company_match_key, false) as shares_identifier
                from scored as a
                inner join scored as b on a.person_id = b.person_id and a.rowid < b.rowid
            )
            select kind, count(*), count(*) filter (where found)
            from (select unnest(case when len(kinds) = 0 then ['(no noise)'] else kinds end) as kind, found
                  from pairs)
            group by kind
            union all
            select 'no shared identifier', count(*), count(*) filter (where found)
            from pairs where not shares_identifier
            union all
            select 'with a shared identifier', count(*), count(*) filter (where found)
            from pairs where shares_identifier
            order by 1""").fetchall()
    finally:
        con.close()
    results += [PairQuality(kind, n, 0, found) for kind, n, found in rows]
    return results


def duplicates_meet_targets(results: list[PairQuality]) -> bool:
    overall = results[0]
    return (overall.precision or 0.0) >= DEDUPE_TARGETS["precision"] and overall.recall >= DEDUPE_TARGETS["recall"]


def render_duplicates(results: list[PairQuality]) -> str:

    rows = []
    for r in results:
        precision = f"{r.precision:.2%}" if r.predicted_pairs else ""
        rows.append([r.scope, r.true_pairs, r.correct_pairs, precision, f"{r.recall:.2%}"])
    overall = results[0]
    rows.append(["target", "", "", f"{DEDUPE_TARGETS['precision']:.0%}", f"{DEDUPE_TARGETS['recall']:.0%}"])
    return render_table(["pairs", "true", "found", "precision", "recall"], rows) + \
        f"\npredicted pairs: {overall.predicted_pairs:,}"
