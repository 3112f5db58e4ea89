"""Accuracy of the cleaned layer against the demo generator's ground truth.

`python -m ingestion accuracy` (and `make bench`) join `cleaned.cleaned_contacts` to
GROUND_TRUTH_DIR/records.parquet on (source system, source record id) and print, per
field, how many records the cleaned value gets right:

- email: valid addresses equal the true address; invalid ones are flagged invalid
  (records whose export had an email);
- phone: valid numbers equal the true E.164; invalid ones are flagged invalid
  (records whose export had a phone);
- country: the ISO code equals the true country (records whose export named a country);
- street_suffix: the USPS suffix equals the true one (US records with a street);
- state: the state or province code equals the true one (records that name a state);
- postal_code: the formatted code equals the true one (records with a postal code);
- company_domain: the company domain equals the true one (records where one was found);
- seniority: the level read from the job title equals the true one (records with a title).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

TARGETS = {"email": 0.995, "country": 0.995, "phone": 0.99, "street_suffix": 0.98, "state": 0.98,
           "postal_code": 0.98, "company_domain": 0.98, "seniority": 0.95}

CHECKS = {
    "email": ("truth.email_is_valid is not null",
              "case when truth.email_is_valid then cleaned.is_email_valid and cleaned.email_address = truth.true_email "
              "else not cleaned.is_email_valid end"),
    "phone": ("truth.phone_is_valid is not null",
              "case when truth.phone_is_valid then cleaned.is_phone_valid and cleaned.phone_e164 = truth.true_phone_e164 "
              "else not cleaned.is_phone_valid end"),
    # the country field's own spelling must map to the true code (an inferred country does not count)
    "country": ("nullif(trim(cleaned.country_original), '') is not null",
                "coalesce(cleaned.country_code_source = 'country_field' "
                "and cleaned.country_code = truth.true_country_code, false)"),
    "street_suffix": ("truth.true_street_suffix is not null and cleaned.street_line_1_original is not null",
                      "coalesce(cleaned.street_suffix = truth.true_street_suffix, false)"),
    "state": ("truth.true_state_code is not null and cleaned.state_original is not null",
              "coalesce(cleaned.state_code = truth.true_state_code, false)"),
    "postal_code": ("cleaned.postal_code_original is not null",
                    "coalesce(cleaned.postal_code = truth.true_postal_code, false)"),
    "company_domain": ("cleaned.company_domain is not null and not cleaned.is_role_email",
                       "cleaned.company_domain = truth.true_company_domain"),
    "seniority": ("cleaned.job_title is not null",
                  "coalesce(cleaned.seniority = truth.true_seniority, false)"),
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
    from ingestion.cli import render_table

    return render_table(["field", "records", "correct", "accuracy", "target", "met"],
                        [[r.field, r.records, r.correct, f"{r.accuracy:.2%}", f"{r.target:.1%}",
                          "yes" if r.meets_target else "NO"] for r in results])
