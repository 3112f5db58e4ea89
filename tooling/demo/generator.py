"""Deterministic demo CRM exports with ground truth.

Writes five files the way real exports look (HubSpot CSV, Salesforce CSV with a
BOM and multi-line streets, a semicolon Latin-1 trade-show list, a JSONL webinar
feed and a Parquet partner list) into the landing folder, and the truth behind
every record into a separate folder, so later layers can be scored.

`contacts` is the number of contact records across all files; about 15-20 %
of them are extra records of a person already present (0-5 extras per person).
A handful of junk rows with no identity are written on top, for the
quarantine to catch.
"""

from __future__ import annotations

import bisect
import csv
import functools
import itertools
import json
import random
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.landing import file_sha256
from tooling.demo import vocabulary as v
from tooling.demo.marker import DEMO_MARKER

SOURCE_WEIGHTS = {"hubspot": 0.35, "salesforce": 0.28, "webinar": 0.15,
                  "tradeshow": 0.12, "partner": 0.10}
FILE_NAMES = {
    "hubspot": "hubspot__contacts_export.csv",
    "salesforce": "salesforce__contacts.csv",
    "tradeshow": "tradeshow__leads_dmexco.csv",
    "webinar": "webinar__signups.jsonl",
    "partner": "partner__contact_list.parquet",
}
# extra records per person: 0..5
EXTRA_RECORDS = {0: 0.862, 1: 0.083, 2: 0.030, 3: 0.014, 4: 0.007, 5: 0.004}

EPOCH_START = datetime(2022, 1, 1, tzinfo=UTC)
EPOCH_DAYS = 1764  # up to 2026-10-31

# phone numbering plans: country -> type -> (prefixes, free digits). Prefixes
# are national significant number starts known to be valid in libphonenumber.
PHONE_PLANS: dict[str, dict[str, tuple[list[str], int]]] = {
    "US": {"fixed_line_or_mobile": ([], 7)},
    "CA": {"fixed_line_or_mobile": ([], 7)},
    "GB": {"fixed_line": (["203", "207", "208"], 7),
           "mobile": (["74", "75", "78"], 8)},
    "DE": {"fixed_line": (["302", "303", "304", "305", "306", "307", "308", "309"], 7),
           "mobile": (["151", "152", "157", "159", "162", "176", "177", "179"], 8)},
    "FR": {"fixed_line": (["1"], 8), "mobile": (["61", "62", "64", "65", "67", "68"], 7)},
    "NL": {"fixed_line": (["202", "203", "204", "205", "206", "207", "208", "209"], 6),
           "mobile": (["61", "62", "63", "64", "65"], 7)},
    "AU": {"fixed_line": (["28", "29", "38", "39"], 7),
           "mobile": (["40", "41", "42", "43"], 7)},
    "IN": {"fixed_line": (["112", "113", "114", "115", "116"], 7),
           "mobile": (["97", "98", "99"], 8)},
}
DIAL_CODES = {"US": "1", "CA": "1", "GB": "44", "DE": "49", "FR": "33",
              "NL": "31", "AU": "61", "IN": "91"}
INVALID_PHONES = ["N/A", "000", "12345", "+1 555", "tbd", "0000000000", "n/a",
                  "call reception", "123-456", "+44 (0)"]


def _pick(r: random.Random, seq):  # noqa: ANN001, ANN202 - any sequence, its item
    """random.choice without its rejection sampling: ~3x faster, bias < 1e-15."""
    return seq[int(r.random() * len(seq))]


def _int(r: random.Random, low: int, high: int) -> int:
    """random.randint(low, high) the same fast way."""
    return low + int(r.random() * (high - low + 1))


@functools.lru_cache(maxsize=65_536)
def _ascii(text: str) -> str:
    """Fold a name into the ASCII that email local parts use."""
    text = text.replace("ß", "ss").replace("ø", "o").replace("æ", "ae")
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


@dataclass
class Office:
    city: str
    state_code: str
    state_spellings: list[str]
    postal_code: str
    street_number: int
    street_core: str          # street name without suffix
    suffix_code: str          # USPS abbreviation for US, "" elsewhere
    directional: str          # USPS directional code for US, "" elsewhere
    unit_code: str
    unit_value: str
    switchboard: str          # E.164
    # US street forms real exports hold (see _us_street_forms): the house number as written
    # ("" = street_number, "-" = none, "N6526", "119-46"), a post-directional, and the
    # codes whose spellings the main random sequence draws (kept so that adding forms did
    # not change the rest of the demo data)
    house_text: str = ""
    post_directional: str = ""
    suffix_draw_code: str = ""
    unit_draw_code: str = ""


@dataclass
class Company:
    company_id: str
    name: str
    legal_form: str
    country: str
    domain: str
    industry: str
    employee_count: int
    size_band: str
    revenue_range: str
    email_pattern: str
    offices: list[Office] = field(default_factory=list)


@dataclass
class Person:
    person_id: str
    culture: str
    first_name: str
    last_name: str
    country: str
    company: Company
    office: Office
    email: str
    personal_email: str | None
    phone: str | None
    phone_type: str | None
    seniority: str
    department: str
    job_title: str
    opted_out: bool
    previous_company: Company | None = None
    previous_title: tuple[str, str, str] | None = None   # title, seniority, department
    previous_email: str | None = None
    changed_job_at: datetime | None = None
    namesake_of: str | None = None


@dataclass
class DemoSummary:
    contacts: int
    persons: int
    companies: int
    junk_rows: int
    files: dict[str, int]
    landing_dir: Path
    truth_dir: Path


class DemoGenerator:
    """Builds companies, people and their source records from one seed."""

    def __init__(self, contacts: int, seed: int = 42) -> None:
        if contacts < 1:
            raise ValueError("contacts must be at least 1")
        self.contacts = contacts
        self.seed = seed
        self.rng = random.Random(seed)
        self._phone_counters: dict[tuple[str, str], int] = {}
        self._emails: set[str] = set()
        self._record_ids: dict[str, int] = dict.fromkeys(SOURCE_WEIGHTS, 0)
        self._cumulative: dict[int, tuple[list, list[float]]] = {}

    # ------------------------------------------------------------ helpers ----
    def _weighted(self, weights: dict[str, float]) -> str:
        """A weighted pick; cumulative weights are computed once per table (choices() redoes it)."""
        table = self._cumulative.get(id(weights))
        if table is None:
            table = (list(weights), list(itertools.accumulate(weights.values())))
            self._cumulative[id(weights)] = table
        keys, cum = table
        return keys[bisect.bisect_right(cum, self.rng.random() * cum[-1])]

    def _phone(self, country: str, kind: str, area: str = "") -> str:
        """A unique, valid E.164 number of the given kind."""
        prefixes, free = PHONE_PLANS[country][kind]
        key = (country, kind)
        n = self._phone_counters.get(key, 0)
        self._phone_counters[key] = n + 1
        space = 10 ** free
        scrambled = (n * 7_368_787 + 1_234_567) % space  # bijective: multiplier is coprime to 10
        digits = str(scrambled).zfill(free)
        if country in ("US", "CA"):
            exchange_first = str(2 + (n // space) % 8)
            nsn = area + exchange_first + digits[1:3] + digits[3:]
            nsn = nsn[:10]
            return "+" + DIAL_CODES[country] + nsn
        prefix = prefixes[(n // space + n) % len(prefixes)]
        return "+" + DIAL_CODES[country] + prefix + digits

    def format_phone(self, e164: str, country: str) -> str:
        """Render an E.164 number the many ways CRMs store it."""
        cc = DIAL_CODES[country]
        nsn = e164[1 + len(cc):]
        r = self.rng
        if country in ("US", "CA"):
            a, e, line = nsn[:3], nsn[3:6], nsn[6:]
            return _pick(r, [
                f"({a}) {e}-{line}", f"{a}-{e}-{line}", f"{a}.{e}.{line}", f"{a}{e}{line}",
                f"1-{a}-{e}-{line}", f"+1 {a} {e} {line}", f"+1 ({a}) {e}-{line}",
                f"+1-{a}-{e}-{line}", f"001 {a} {e} {line}", f"{a} {e} {line}",
                f"+1{a}{e}{line}", f"({a}){e}-{line}",
            ])
        groups = _group_nsn(nsn, country)
        national = "0" + " ".join(groups)
        return _pick(r, [
            national,
            national.replace(" ", ""),
            "0" + "-".join(groups),
            f"+{cc} " + " ".join(groups),
            f"+{cc} (0)" + " ".join(groups),
            f"00{cc} " + " ".join(groups),
            f"00 {cc} " + " ".join(groups),
            f"+{cc}" + nsn,
            f"+{cc}-" + "-".join(groups),
        ])

    # ---------------------------------------------------------- companies ----
    def _make_companies(self, n: int) -> list[Company]:
        r = self.rng
        mids = ["Data", "Bio", "Green", "Smart", "Cloud", "Digital", "United",
                "Advanced", "Applied", "Precision", "Integrated", "Strategic",
                "Creative", "Prime", "Peak", "Bright", "Blue", "Silver",
                "Golden", "Global", "North", "Pacific", "Atlantic", "Urban"]
        names: list[str] = []
        seen: set[str] = set()
        attempt = 0
        while len(names) < n:
            a = _pick(r, v.COMPANY_WORDS_A)
            b = _pick(r, v.COMPANY_WORDS_B)
            if attempt < n * 2 and r.random() < 0.5:
                name = f"{a} {b}"
            else:
                words = [_pick(r, mids) for _ in range(1 + attempt // (n * 8))]
                name = " ".join([a, *words, b])
            attempt += 1
            slug = _ascii(name)
            if slug in seen:
                continue
            seen.add(slug)
            names.append(name)

        companies = []
        bands = v.SIZE_BANDS
        for i, name in enumerate(names):
            country = self._weighted(v.COUNTRY_WEIGHTS)
            band = r.choices(bands, weights=[b[3] for b in bands])[0]
            employees = _int(r, band[1], band[2])
            revenue_index = min(len(v.REVENUE_RANGES) - 1, bands.index(band) + _int(r, -1, 1))
            legal = _pick(r, list(v.LEGAL_SUFFIXES[country]))
            company = Company(
                company_id=f"C{i + 1:07d}",
                name=name,
                legal_form=legal,
                country=country,
                domain=_ascii(name) + "." + v.COUNTRY_TLD[country],
                industry=_pick(r, v.INDUSTRIES),
                employee_count=employees,
                size_band=band[0],
                revenue_range=v.REVENUE_RANGES[max(0, revenue_index)],
                email_pattern=r.choices(["first.last", "flast", "first", "firstl", "first_last"],
                                        weights=[0.55, 0.2, 0.1, 0.1, 0.05])[0],
            )
            n_offices = 1 if employees < 500 else _int(r, 1, 3)
            for _ in range(n_offices):
                company.offices.append(self._make_office(country))
            companies.append(company)
        return companies

    def _make_office(self, country: str) -> Office:
        r = self.rng
        city, state_code, spellings, area, postal_prefix = _pick(r, v.CITIES[country])
        postal = _postal_code(r, country, postal_prefix)
        suffix_code = directional = unit_code = unit_value = ""
        if country == "DE":
            core = _pick(r, v.GERMAN_STREETS)
        elif country == "FR":
            core = _pick(r, v.FRENCH_STREETS)
        elif country == "NL":
            core = _pick(r, v.DUTCH_STREETS)
        else:
            core = _pick(r, v.STREET_NAMES.get(country, v.STREET_NAMES["US"]))
            if country == "US":
                suffix_code = _pick(r, list(v.US_STREET_SUFFIXES))
                if r.random() < 0.25:
                    directional = _pick(r, list(v.US_DIRECTIONALS))
                if r.random() < 0.45:
                    unit_code = _pick(r, list(v.US_UNIT_DESIGNATORS))
                    unit_value = str(_int(r, 1, 40) * 100 + _int(r, 0, 20)) if unit_code != "FL" \
                        else str(_int(r, 2, 60))
            else:
                suffix_code = _pick(r, v.OTHER_STREET_SUFFIXES)
        forms = _us_street_forms(r, suffix_code, directional, unit_code, unit_value) if country == "US" else {}
        if country in ("US", "CA"):
            switchboard = self._phone(country, "fixed_line_or_mobile", area)
        else:
            switchboard = self._phone(country, "fixed_line")
        office = Office(city, state_code, spellings, postal, _int(r, 1, 2500), core,
                        suffix_code, directional, unit_code, unit_value, switchboard)
        for name, value in forms.items():
            setattr(office, name, value)
        return office

    # ------------------------------------------------------------- people ----
    def _title(self, seniority: str, department: str) -> tuple[str, str, str]:
        """Canonical job title for a seniority and department."""
        d = v.DEPARTMENTS[department]
        if seniority == "c_level":
            if self.rng.random() < 0.25:
                return "Chief Executive Officer", "c_level", "executive"
            return d["chief"], seniority, department
        fn = d["fn"]
        role = _pick(self.rng, v.ROLE_NOUNS[department])
        return {
            "vp": f"Vice President of {fn}",
            "director": f"Director of {fn}",
            "manager": f"{fn} Manager",
            "senior": f"Senior {role}",
            "entry": role,
        }[seniority], seniority, department

    def title_variant(self, title: str, seniority: str, department: str, country: str) -> str:
        """One of the ways people type the same job title."""
        r = self.rng
        if r.random() < 0.45:
            return title
        fn = v.DEPARTMENTS[department]["fn"] if department in v.DEPARTMENTS else ""
        if seniority == "c_level":
            if department == "executive":
                options = ["CEO", "Chief Executive", "CEO & Founder", "Founder & CEO", "President & CEO"]
                if country == "DE":
                    options.append("Geschäftsführer")
                if country == "FR":
                    options.append("PDG")
                return _pick(r, options)
            acr = v.DEPARTMENTS[department]["acr"]
            return _pick(r, [acr, f"{title} ({acr})", title.upper(), f"Chief {fn} Officer"])
        if seniority == "vp":
            return _pick(r, [f"VP of {fn}", f"VP {fn}", f"Vice President, {fn}", f"V.P. {fn}",
                             f"SVP {fn}", f"Senior Vice President, {fn}", f"VP, {fn}",
                             f"Vice-President {fn}"])
        if seniority == "director":
            options = [f"{fn} Director", f"Dir. {fn}", f"Head of {fn}", f"Director, {fn}",
                       f"Sr. Director of {fn}"]
            if country == "DE":
                options.append(f"Leiter {fn}")
            if country == "FR":
                options.append(f"Directeur {fn}")
            return _pick(r, options)
        if seniority == "manager":
            options = [f"Manager, {fn}", f"{fn} Mgr", f"Mgr. {fn}", f"{fn} manager", f"{fn} Team Lead"]
            if country == "FR":
                options.append(f"Responsable {fn}")
            return _pick(r, options)
        if seniority == "senior":
            role = title.removeprefix("Senior ")
            return _pick(r, [f"Sr. {role}", f"Sr {role}", f"Lead {role}", f"Principal {role}",
                             f"{role}, Senior", f"SENIOR {role.upper()}"])
        return _pick(r, [f"Junior {title}", f"Jr. {title}", f"Associate {title}", title.lower(),
                         f"{title} I"])

    def _email(self, first: str, last: str, domain: str, pattern: str) -> str:
        f, last_ascii = _ascii(first), _ascii(last)
        local = {
            "first.last": f"{f}.{last_ascii}",
            "flast": f"{f[:1]}{last_ascii}",
            "first": f,
            "firstl": f"{f}{last_ascii[:1]}",
            "first_last": f"{f}_{last_ascii}",
        }[pattern] or "contact"
        candidate = f"{local}@{domain}"
        n = 1
        while candidate in self._emails:
            n += 1
            candidate = f"{local}{n}@{domain}"
        self._emails.add(candidate)
        return candidate

    def _make_person(self, index: int, company: Company) -> Person:
        r = self.rng
        office = _pick(r, company.offices)
        country = company.country
        culture = _pick(r, v.COUNTRY_CULTURE[country])
        first = _pick(r, v.FIRST_NAMES[culture])
        last = _pick(r, v.LAST_NAMES[culture])
        seniority = self._weighted(v.SENIORITY_WEIGHTS)
        department = self._weighted(v.DEPARTMENT_WEIGHTS)
        title, seniority, department = self._title(seniority, department)
        email = self._email(first, last, company.domain, company.email_pattern)
        personal = None
        if r.random() < 0.4:
            free_domain = _pick(r, v.FREE_MAIL_DOMAINS[:6] if r.random() < 0.7 else v.FREE_MAIL_DOMAINS)
            personal = self._email(first, last + str(_int(r, 1, 99)), free_domain, "first.last")
        phone = phone_type = None
        if r.random() < 0.85:
            if country in ("US", "CA"):
                phone_type = "fixed_line_or_mobile"
                area = _pick(r, v.CITIES[country])[3]
                phone = self._phone(country, phone_type, area)
            else:
                phone_type = "mobile" if r.random() < 0.6 else "fixed_line"
                phone = self._phone(country, phone_type)
        return Person(
            person_id=f"P{index + 1:08d}", culture=culture, first_name=first, last_name=last,
            country=country, company=company, office=office, email=email, personal_email=personal,
            phone=phone, phone_type=phone_type, seniority=seniority, department=department,
            job_title=title, opted_out=r.random() < 0.07,
        )

    # ------------------------------------------------------------- build -----
    def build(self) -> tuple[list[Company], list[Person], list[dict]]:
        """Returns companies, persons and one dict per source record."""
        r = self.rng
        record_counts: list[int] = []
        total = 0
        while total < self.contacts:
            n = 1 + self._weighted(EXTRA_RECORDS)
            n = min(n, self.contacts - total)
            record_counts.append(n)
            total += n
        n_persons = len(record_counts)
        companies = self._make_companies(max(3, n_persons // 14))
        # bigger companies hold more of our contacts, sub-linearly
        weights = [c.employee_count ** 0.55 for c in companies]
        employers = r.choices(companies, weights=weights, k=n_persons)
        persons = [self._make_person(i, employers[i]) for i in range(n_persons)]

        # hard non-matches: a few colleagues share a name as well as the office
        by_company: dict[str, list[Person]] = {}
        for p in persons:
            by_company.setdefault(p.company.company_id, []).append(p)
        for colleagues in by_company.values():
            if len(colleagues) >= 2 and r.random() < 0.08:
                a, b = r.sample(colleagues, 2)
                b.first_name, b.last_name, b.culture = a.first_name, a.last_name, a.culture
                b.email = self._email(b.first_name, b.last_name, b.company.domain, b.company.email_pattern)
                b.office = a.office
                b.namesake_of = a.person_id

        records: list[dict] = []
        for person, n in zip(persons, record_counts):
            if n >= 2 and r.random() < 0.08:
                self._change_job(person, companies)
            base_day = _int(r, 0, EPOCH_DAYS - 200)
            for k in range(n):
                day = base_day + (0 if k == 0 else _int(r, 1, 180))
                updated = EPOCH_START + timedelta(days=day, seconds=_int(r, 0, 86_399))
                records.append(self._record(person, k, updated, base_day))
        r.shuffle(records)
        return companies, persons, records

    def _change_job(self, person: Person, companies: list[Company]) -> None:
        r = self.rng
        same_country = [c for c in r.sample(companies, min(40, len(companies)))
                        if c.country == person.country and c is not person.company]
        if not same_country:
            return
        old = same_country[0]
        order = list(v.SENIORITY_WEIGHTS)
        old_seniority = order[min(len(order) - 1, order.index(person.seniority) + 1)]
        old_department = person.department if person.department in v.DEPARTMENTS else "operations"
        person.previous_company = old
        person.previous_title = self._title(old_seniority, old_department)
        person.previous_email = self._email(person.first_name, person.last_name, old.domain,
                                            old.email_pattern)

    def _record(self, p: Person, k: int, updated: datetime, base_day: int) -> dict:
        """One source record of a person: the person as one CRM saw them."""
        r = self.rng
        source = self._weighted(SOURCE_WEIGHTS)
        self._record_ids[source] += 1
        kinds: list[str] = []
        is_dup = k > 0

        company, title3, email = p.company, (p.job_title, p.seniority, p.department), p.email
        office, phone, phone_type = p.office, p.phone, p.phone_type
        if p.previous_company is not None and k == 0:
            # the earliest record still shows the old job: old company, office and work
            # email. People take their own mobile and private mailbox from job to job, so
            # it often carries those; otherwise the old office's switchboard
            company, title3, email = p.previous_company, p.previous_title, p.previous_email
            office = company.offices[0]
            if not (phone and p.phone_type != "fixed_line" and r.random() < 0.8):
                phone, phone_type = office.switchboard, ("fixed_line_or_mobile"
                                                         if p.country in ("US", "CA") else "fixed_line")
            if p.personal_email and r.random() < 0.5:
                email = p.personal_email
            kinds.append("job_change")
            updated = EPOCH_START + timedelta(days=max(0, base_day - _int(r, 200, 600)),
                                              seconds=_int(r, 0, 86_399))

        # ---- names
        first, last = p.first_name, p.last_name
        canonical_first = first
        if first in v.NICKNAMES and r.random() < (0.3 if is_dup else 0.08):
            first = _pick(r, v.NICKNAMES[first])
            kinds.append("nickname")
        if is_dup and r.random() < 0.1 and len(last) >= 4:
            last = _typo(r, last)
            kinds.append("typo")
        if is_dup and r.random() < 0.04:
            first = first[0] + _pick(r, [".", ""])
            kinds.append("initial")
        first, last = _case_noise(r, first), _case_noise(r, last)
        if r.random() < 0.02:
            first = ""
        elif r.random() < 0.02:
            last = ""

        # ---- email
        email_value: str | None = email
        if is_dup and p.personal_email and r.random() < 0.35:
            email_value = p.personal_email
            kinds.append("personal_email")
        if email_value and email_value.endswith("@gmail.com") and r.random() < 0.3:
            local, domain = email_value.split("@")
            email_value = (local.replace(".", "") if r.random() < 0.5 else local + "+" +
                           _pick(r, ["news", "crm", "webinar"])) + "@" + domain
        if r.random() < 0.005:
            email_value = "info@" + company.domain
            kinds.append("role_email")
        email_valid = True
        if r.random() < 0.08:
            email_value = None
        elif r.random() < 0.012:
            email_value = _broken_email(r, email_value)
            email_valid = False
        email_true = email_value.strip().lower() if email_value and email_valid else None
        if email_value:
            if r.random() < 0.1:
                email_value = email_value.upper() if r.random() < 0.5 else email_value.capitalize()
            if r.random() < 0.05:
                email_value = " " + email_value + " "

        # ---- phone
        phone_true, phone_kind = phone, phone_type
        if r.random() < 0.12:
            phone_true, phone_kind = office.switchboard, ("fixed_line_or_mobile"
                                                          if p.country in ("US", "CA") else "fixed_line")
            kinds.append("switchboard")
        phone_valid = phone_true is not None
        phone_value = self.format_phone(phone_true, p.country) if phone_true else None
        if r.random() < 0.12:
            phone_value, phone_true, phone_valid = None, None, False
        elif r.random() < 0.01:
            phone_value, phone_true, phone_valid = _pick(r, INVALID_PHONES), None, False

        # ---- company, title
        company_value = _company_variant(r, company)
        website = _website_variant(r, company.domain) if r.random() < 0.45 else None
        title, seniority, department = title3
        title_value = self.title_variant(title, seniority, department, p.country) \
            if r.random() > 0.12 else None

        # ---- address
        addr = _address_variant(r, p.country, office)
        country_value = _pick(r, v.COUNTRY_SPELLINGS[p.country]) if r.random() > 0.05 else None
        state_value = _pick(r, office.state_spellings) if office.state_spellings and r.random() > 0.1 else None
        postal_value = _postal_variant(r, p.country, office.postal_code)

        opted_out = p.opted_out and r.random() < 0.7

        return {
            "person_id": p.person_id,
            "source_system": source,
            "source_record_id": _record_id(source, self._record_ids[source], r),
            "record_index": k,
            "duplicate_kinds": kinds,
            "salutation": _pick(r, v.SALUTATIONS) if r.random() < 0.2 else None,
            "first_name": first,
            "last_name": last,
            "email": email_value,
            "phone": phone_value,
            "company": company_value,
            "company_website": website,
            "job_title": title_value,
            "street": addr["street"],
            "street2": addr["street2"],
            "city": _city_case_variant(r, _pick(r, v.CITY_SPELLINGS.get(office.city, [office.city]))),
            "state": state_value,
            "postal_code": postal_value,
            "country": country_value,
            "opted_out": opted_out,
            "updated_at": updated,
            # truth
            "true_first_name": p.first_name,
            "true_canonical_first_name": canonical_first,
            "true_last_name": p.last_name,
            "true_email": email_true,
            "email_is_valid": email_valid if email_value else None,
            "true_phone_e164": phone_true,
            "phone_is_valid": phone_valid if phone_value else None,
            "true_phone_type": phone_kind if phone_true else None,
            "true_company_id": company.company_id,
            "true_company_domain": company.domain,
            "true_job_title": title,
            "true_seniority": seniority,
            "true_department": department,
            "true_street_suffix": office.suffix_code if p.country == "US" else None,
            "true_street_address": addr["true_street_address"],
            "true_street_unit": addr["true_street_unit"],
            "true_street_directional": office.directional or None,
            "true_unit_designator": office.unit_code or None,
            "true_state_code": office.state_code or None,
            "true_postal_code": office.postal_code,
            "true_city": office.city,
            "true_country_code": p.country,
            "true_opted_out": p.opted_out,
        }

    # ------------------------------------------------------------- write -----
    def write(self, landing_dir: Path, truth_dir: Path) -> DemoSummary:
        landing_dir.mkdir(parents=True, exist_ok=True)
        truth_dir.mkdir(parents=True, exist_ok=True)
        companies, persons, records = self.build()
        by_source: dict[str, list[dict]] = {s: [] for s in SOURCE_WEIGHTS}
        for rec in records:
            by_source[rec["source_system"]].append(rec)

        junk = self._junk_rows()
        expected_quarantine: list[dict] = []
        counts = {}
        counts["hubspot"] = _write_hubspot(landing_dir / FILE_NAMES["hubspot"], by_source["hubspot"], junk,
                                           expected_quarantine)
        counts["salesforce"] = _write_salesforce(landing_dir / FILE_NAMES["salesforce"], by_source["salesforce"])
        counts["tradeshow"] = _write_tradeshow(landing_dir / FILE_NAMES["tradeshow"], by_source["tradeshow"],
                                               self.rng, expected_quarantine)
        counts["webinar"] = _write_webinar(landing_dir / FILE_NAMES["webinar"], by_source["webinar"])
        counts["partner"] = _write_partner(landing_dir / FILE_NAMES["partner"], by_source["partner"])
        _write_truth(truth_dir, companies, persons, records, expected_quarantine)
        _write_demo_marker(landing_dir, [landing_dir / FILE_NAMES[s] for s in counts])
        return DemoSummary(
            contacts=len(records), persons=len(persons), companies=len(companies),
            junk_rows=len(junk), files={FILE_NAMES[s]: c for s, c in counts.items()},
            landing_dir=landing_dir, truth_dir=truth_dir,
        )

    def _junk_rows(self) -> list[dict]:
        """Rows with no identity (no email, phone or name): what a CRM's blank form leaves."""
        n = max(1, self.contacts // 4000)
        return [{"company": _pick(self.rng, v.COMPANY_WORDS_A) + " " + _pick(self.rng, v.COMPANY_WORDS_B),
                 "city": "London"} for _ in range(n)]


def _write_demo_marker(landing_dir: Path, paths: list[Path]) -> None:
    """Name the files as demo data (tooling/demo/marker.py): only these may go to the emulator."""
    marker = landing_dir / DEMO_MARKER
    try:
        listed = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        listed = {}
    listed.update({p.name: file_sha256(p) for p in paths})
    marker.write_text(json.dumps(listed, indent=2, sort_keys=True), encoding="utf-8")


# ------------------------------------------------------------ variations ----

def _group_nsn(nsn: str, country: str) -> list[str]:
    if country == "FR":
        return [nsn[0]] + [nsn[i:i + 2] for i in range(1, len(nsn), 2)]
    if country == "GB":
        return [nsn[:2], nsn[2:6], nsn[6:]] if nsn.startswith("2") else [nsn[:4], nsn[4:]]
    if country == "DE":
        cut = 2 if nsn.startswith("3") else 3
        return [nsn[:cut], nsn[cut:]]
    if country == "NL":
        return [nsn[:2], nsn[2:5], nsn[5:]] if nsn.startswith("2") else [nsn[:1], nsn[1:]]
    if country == "AU":
        return [nsn[:1], nsn[1:5], nsn[5:]] if nsn[0] in "23" else [nsn[:3], nsn[3:6], nsn[6:]]
    if country == "IN":
        return [nsn[:2], nsn[2:6], nsn[6:]] if nsn.startswith("11") else [nsn[:5], nsn[5:]]
    return [nsn]


# the letters each country's codes use: Canada Post never uses D F I O Q U; a UK inward code
# never C I K M O V; Dutch codes never end in SA, SD or SS
CA_LETTERS = "ABCEGHJKLMNPRSTVWXYZ"
GB_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
NL_LETTERS = "ABCDEFGHJKLMNPRTUVWXYZ"


def _postal_code(r: random.Random, country: str, prefix: str) -> str:
    if country == "US":
        return prefix + f"{_int(r, 0, 99):02d}"
    if country == "CA":
        return f"{prefix} {_int(r, 0, 9)}{_pick(r, CA_LETTERS)}{_int(r, 0, 9)}"
    if country == "GB":
        return f"{prefix} {_int(r, 1, 9)}{_pick(r, GB_INWARD_LETTERS)}{_pick(r, GB_INWARD_LETTERS)}"
    if country in ("DE", "FR"):
        return prefix + f"{_int(r, 1, 999):03d}"
    if country == "NL":
        return f"{prefix}{_int(r, 11, 99)} {_pick(r, NL_LETTERS)}{_pick(r, NL_LETTERS)}"
    if country == "AU":
        return str(int(prefix) + _int(r, 0, 99))
    if country == "IN":
        return prefix + f"{_int(r, 1, 99):03d}"
    return prefix


def _postal_variant(r: random.Random, country: str, code: str) -> str | None:
    roll = r.random()
    if roll < 0.06:
        return None
    if country == "US":
        if roll < 0.2:
            return code + "-" + f"{_int(r, 0, 9999):04d}"
        if code.startswith("0") and roll < 0.3:
            return code.lstrip("0")  # a spreadsheet ate the leading zero
        return code
    if country in ("CA", "GB", "NL"):
        if roll < 0.35:
            return code.replace(" ", "")
        if roll < 0.5:
            return code.lower()
        return code
    if country == "IN" and roll < 0.3:
        return code[:3] + " " + code[3:]
    return code


def _side_rng(r: random.Random) -> random.Random:
    """A generator seeded from r's state without drawing from r: new choices that leave the
    main random sequence (and so the rest of the demo data) as it was."""
    return random.Random(hash(r.getstate()[1]))


def _us_street_forms(r: random.Random, suffix_code: str, directional: str, unit_code: str,
                     unit_value: str) -> dict:
    """The forms of a US office's street line real exports hold: no house number (3 %), grid
    (N6526) and hyphenated (119-46) house numbers (2 % each), any suffix of Publication 28's
    C1 table (half the offices), a post-directional (12 %; 454 W 700 S), and the C2 unit
    designators beyond suite, floor and room (a third of the units)."""
    sr = _side_rng(r)
    forms = {"suffix_draw_code": suffix_code, "unit_draw_code": unit_code}
    roll = sr.random()
    if roll < 0.03:
        forms["house_text"] = "-"
    elif roll < 0.05:
        forms["house_text"] = f"{_pick(sr, 'NSEW')}{_int(sr, 1000, 9999)}"
    elif roll < 0.07:
        forms["house_text"] = f"{_int(sr, 10, 250)}-{_int(sr, 1, 99):02d}"
    if sr.random() < 0.5:
        forms["suffix_code"] = _pick(sr, list(v.C1_SUFFIX_SPELLINGS))
    if sr.random() < 0.12:
        forms["post_directional"] = _pick(sr, list(v.US_POST_DIRECTIONALS))
    if unit_code and sr.random() < 0.35:
        code = _pick(sr, list(v.C2_UNIT_SPELLINGS))
        forms["unit_code"] = code
        forms["unit_value"] = "" if code in v.C2_WITHOUT_NUMBER else str(_int(sr, 1, 40))
    return forms


def _us_street_truth(o: Office) -> str:
    """The office's street line in Publication 28 form, without its unit."""
    house = {"": str(o.street_number), "-": ""}.get(o.house_text, o.house_text)
    return " ".join(p for p in (house, o.directional, o.street_core.upper(), o.suffix_code, o.post_directional) if p)


def _us_street(r: random.Random, o: Office) -> tuple[str, str]:
    """(street line, unit) as an export writes them; draws from r exactly what the demo drew
    before the forms of _us_street_forms existed, the rest from a side generator."""
    sr = _side_rng(r)
    direction = (_pick(r, v.US_DIRECTIONALS[o.directional]) + " ") if o.directional else ""
    suffix = _pick(r, v.US_STREET_SUFFIXES[o.suffix_draw_code or o.suffix_code])
    if o.suffix_code != (o.suffix_draw_code or o.suffix_code):
        suffix = _pick(sr, v.C1_SUFFIX_SPELLINGS[o.suffix_code])
        suffix = {0: suffix, 1: suffix.title(), 2: suffix.title() + "."}[_int(sr, 0, 2)]
    house = {"": f"{o.street_number} ", "-": ""}.get(o.house_text, o.house_text + " ")
    post = (" " + _pick(sr, v.US_POST_DIRECTIONALS[o.post_directional])) if o.post_directional else ""
    street = f"{house}{direction}{o.street_core} {suffix}{post}"
    unit = ""
    if o.unit_code:
        designator = _pick(r, v.US_UNIT_DESIGNATORS[o.unit_draw_code or o.unit_code])
        if o.unit_code != (o.unit_draw_code or o.unit_code):
            designator = _pick(sr, v.C2_UNIT_SPELLINGS[o.unit_code])
        if not o.unit_value:
            unit = designator
        elif designator.endswith("#"):
            unit = f"{designator}{o.unit_value}"
        elif o.unit_code == "FL" and sr.random() < 0.3:
            unit = f"{_ordinal(int(o.unit_value))} {designator}"   # "2nd Floor"
        else:
            unit = f"{designator} {o.unit_value}"
    return street, unit


def _us_unit_truth(o: Office, unit: str) -> str | None:
    """The unit in Publication 28 form: an export's "Unit" is UNIT, its "#" and "No." are #."""
    if not o.unit_code:
        return None
    code = o.unit_code
    if code == "#" and unit.upper().startswith("UNIT"):
        code = "UNIT"
    return f"{code} {o.unit_value}" if o.unit_value else code


def _city_case_variant(r: random.Random, city: str) -> str:
    """A city as exports write it: mostly as named, sometimes all upper (10 %) or lower (4 %) case."""
    roll = _side_rng(r).random()
    return city.upper() if roll < 0.10 else city.lower() if roll < 0.14 else city


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _address_variant(r: random.Random, country: str, o: Office) -> dict:
    unit = ""
    if country == "US":
        street, unit = _us_street(r, o)
    elif country == "DE":
        core = o.street_core
        if core.endswith("straße"):
            core = core[:-6] + _pick(r, v.GERMAN_STREET_VARIANTS["straße"])
        street = f"{core} {o.street_number % 200}"
    elif country == "FR":
        core = o.street_core
        head = core.split(" ")[0]
        if head in v.FRENCH_STREET_VARIANTS:
            core = _pick(r, v.FRENCH_STREET_VARIANTS[head]) + core[len(head):]
        street = f"{o.street_number % 150}, {core}" if r.random() < 0.3 else f"{o.street_number % 150} {core}"
    elif country == "NL":
        street = f"{o.street_core} {o.street_number % 400}"
    else:
        street = f"{o.street_number} {o.street_core} {o.suffix_code}"
        if r.random() < 0.4:
            street = street.replace("Street", "St").replace("Road", "Rd").replace("Avenue", "Ave")
        if r.random() < 0.2:
            unit = f"Level {_int(r, 1, 30)}" if country == "AU" else f"Floor {_int(r, 1, 30)}"
    truth = {"true_street_address": _us_street_truth(o), "true_street_unit": _us_unit_truth(o, unit)} \
        if country == "US" else {"true_street_address": None, "true_street_unit": None}
    if r.random() < 0.07:
        street = street.upper()
    elif country == "US" and _side_rng(r).random() < 0.03:
        street = street.lower()   # "oliphant street"
    street2 = None
    if unit:
        if r.random() < 0.35:
            street = f"{street}, {unit}"
        else:
            street2 = unit
    if r.random() < 0.04:
        street = None
    return {"street": street, "street2": street2, **truth}


def _typo(r: random.Random, word: str) -> str:
    i = _int(r, 1, len(word) - 2)
    op = r.random()
    if op < 0.35:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op < 0.6:
        return word[:i] + word[i + 1:]
    if op < 0.8:
        return word[:i] + word[i] + word[i:]
    return word[:i] + _pick(r, "aeiourstn") + word[i + 1:]


def _case_noise(r: random.Random, text: str) -> str:
    roll = r.random()
    if roll < 0.06:
        return text.upper()
    if roll < 0.1:
        return text.lower()
    if roll < 0.14:
        return "  " + text + " "
    return text


def _broken_email(r: random.Random, email: str | None) -> str:
    local, _, domain = (email or "someone@example.com").partition("@")
    return _pick(r, [
        f"{local}@{domain.rsplit('.', 1)[0]}",
        f"{local}@@{domain}",
        f"{local.replace('.', ' ')} @{domain}",
        f"{local}.{domain}",
        f"@{domain}",
        f"{local}@{domain.replace('.', '..', 1)}",
        f"{local}@",
    ])


def _company_variant(r: random.Random, c: Company) -> str | None:
    roll = r.random()
    if roll < 0.07:
        return None
    name = c.name
    if roll < 0.35:
        value = name
    else:
        suffix = _pick(r, v.LEGAL_SUFFIXES[c.country][c.legal_form])
        value = f"{name}{suffix}" if suffix.startswith(",") else f"{name} {suffix}"
    if r.random() < 0.06:
        value = value.upper()
    elif r.random() < 0.03:
        value = value.lower()
    return value


def _website_variant(r: random.Random, domain: str) -> str:
    return _pick(r, [f"https://www.{domain}/", f"http://{domain}", f"www.{domain}", domain,
                     f"https://{domain}", f"https://www.{domain}/contact", f"WWW.{domain.upper()}"])


def _record_id(source: str, n: int, r: random.Random) -> str:
    if source == "hubspot":
        return str(1_000_000 + n * 7)
    if source == "salesforce":
        return "003" + format(n * 9973 + 12_345_678_901, "X").rjust(12, "0")
    if source == "tradeshow":
        return f"B-{n:07d}"
    if source == "webinar":
        return f"reg_{n * 2654435761 % (2 ** 40):010x}"
    return f"PRT-{n:08d}"


# --------------------------------------------------------------- writers ----

def _full_name(rec: dict, r: random.Random) -> str | None:
    first, last = rec["first_name"], rec["last_name"]
    if not first and not last:
        return None
    roll = r.random()
    if roll < 0.1 and first and last:
        name = f"{last.strip()}, {first.strip()}"
    else:
        name = " ".join(x for x in (first, last) if x)
    if rec["salutation"] and r.random() < 0.5:
        name = f"{rec['salutation']} {name}"
    if r.random() < 0.02:
        name = f"{name} {_pick(r, v.NAME_SUFFIXES)}"
    return name


def _fmt(dt: datetime, style: str) -> str:
    if style == "hubspot":
        return dt.strftime("%Y-%m-%d %H:%M")
    if style == "salesforce":
        return f"{dt.month}/{dt.day}/{dt.year} {dt.strftime('%I:%M %p').lstrip('0')}"
    if style == "tradeshow":
        return dt.strftime("%d.%m.%Y %H:%M")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_hubspot(path: Path, records: list[dict], junk: list[dict], expected: list[dict]) -> int:
    header = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Company Name",
              "Website URL", "Job Title", "Street Address", "City", "State/Region", "Postal Code",
              "Country/Region", "Unsubscribed from all email", "Last Modified Date",
              "Create Date", "Lifecycle Stage"]
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)  # CRLF line endings, like HubSpot's export
        w.writerow(header)
        junk_every = max(1, len(records) // max(1, len(junk)))
        j = 0
        for i, rec in enumerate(records):
            street = rec["street"]
            if street and rec["street2"]:
                street = f"{street}, {rec['street2']}"
            w.writerow([rec["source_record_id"], rec["first_name"], rec["last_name"], rec["email"],
                        rec["phone"], rec["company"], rec["company_website"], rec["job_title"],
                        street, rec["city"], rec["state"], rec["postal_code"], rec["country"],
                        "true" if rec["opted_out"] else "false", _fmt(rec["updated_at"], "hubspot"),
                        _fmt(rec["updated_at"] - timedelta(days=30), "hubspot"),
                        "lead" if i % 3 else "customer"])
            rows += 1
            if i % junk_every == junk_every - 1 and j < len(junk):
                w.writerow([str(9_000_000 + j), "", "", "", "", junk[j]["company"], "", "", "",
                            junk[j]["city"], "", "", "", "false", "", "", "lead"])
                expected.append({"file_name": path.name, "source_record_id": str(9_000_000 + j),
                                 "reason": "no_identity"})
                j += 1
                rows += 1
    return rows


def _write_salesforce(path: Path, records: list[dict]) -> int:
    header = ["Contact ID", "Salutation", "First Name", "Last Name", "Title", "Account Name", "Email",
              "Phone", "Mailing Street", "Mailing City", "Mailing State/Province",
              "Mailing Zip/Postal Code", "Mailing Country", "Email Opt Out", "Last Modified Date",
              "Lead Source"]
    with path.open("w", encoding="utf-8-sig", newline="") as f:  # Salesforce writes a BOM
        w = csv.writer(f)
        w.writerow(header)
        for rec in records:
            street = rec["street"]
            if street and rec["street2"]:
                street = f"{street}\n{rec['street2']}"  # multi-line street: a quoted newline
            w.writerow([rec["source_record_id"], rec["salutation"], rec["first_name"], rec["last_name"],
                        rec["job_title"], rec["company"], rec["email"], rec["phone"], street, rec["city"],
                        rec["state"], rec["postal_code"], rec["country"], "1" if rec["opted_out"] else "0",
                        _fmt(rec["updated_at"], "salesforce"), "Web"])
    return len(records)


def _write_tradeshow(path: Path, records: list[dict], r: random.Random, expected: list[dict]) -> int:
    header = ["Badge No", "Name", "Company", "Position", "E-mail", "Telephone", "Street", "Postcode",
              "City", "Country", "Scanned", "No marketing", "Booth"]
    with path.open("w", encoding="latin-1", errors="replace", newline="") as f:
        w = csv.writer(f, delimiter=";", lineterminator="\n")
        w.writerow(header)
        for i, rec in enumerate(records):
            street = rec["street"]
            if street and rec["street2"]:
                street = f"{street}, {rec['street2']}"
            row = [rec["source_record_id"], _full_name(rec, r), rec["company"], rec["job_title"],
                   rec["email"], rec["phone"], street, rec["postal_code"], rec["city"], rec["country"],
                   _fmt(rec["updated_at"], "tradeshow"), "X" if rec["opted_out"] else "",
                   f"Hall {i % 8 + 1}"]
            if i % 2500 == 1234:
                # a hand-typed company with an unquoted delimiter: one field too many
                row[2] = (rec["company"] or "Smith") + "; Partners"
                f.write(";".join("" if x is None else str(x) for x in row) + "\n")
                expected.append({"file_name": path.name, "source_record_id": rec["source_record_id"],
                                 "reason": "malformed_row"})
                continue
            w.writerow(row)
    return len(records)


def _write_webinar(path: Path, records: list[dict]) -> int:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for i, rec in enumerate(records):
            doc = {"registrant_id": rec["source_record_id"], "first_name": rec["first_name"] or None,
                   "last_name": rec["last_name"] or None, "email": rec["email"], "phone": rec["phone"],
                   "company": rec["company"], "job_title": rec["job_title"], "country": rec["country"],
                   "registered_at": _fmt(rec["updated_at"], "iso"), "unsubscribed": rec["opted_out"],
                   "utm": {"source": ["linkedin", "newsletter", "google"][i % 3], "campaign": "q3-webinar"}}
            doc = {k: val for k, val in doc.items() if val is not None or i % 2}
            f.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return len(records)


def _write_partner(path: Path, records: list[dict]) -> int:
    rng = random.Random(len(records))
    table = pa.table({
        "partner_contact_id": [r["source_record_id"] for r in records],
        "contact_name": [_full_name(r, rng) for r in records],
        "email_address": [r["email"] for r in records],
        "telephone": [r["phone"] for r in records],
        "organisation": [r["company"] for r in records],
        "org_website": [r["company_website"] for r in records],
        "role": [r["job_title"] for r in records],
        "address_line_1": [r["street"] for r in records],
        "address_line_2": [r["street2"] for r in records],
        "town": [r["city"] for r in records],
        "region": [r["state"] for r in records],
        "postcode": [r["postal_code"] for r in records],
        "country_code": [r["country"] for r in records],
        "do_not_email": pa.array([r["opted_out"] for r in records], pa.bool_()),
        "last_updated": pa.array([r["updated_at"] for r in records], pa.timestamp("us", tz="UTC")),
        "partner_tier": [["gold", "silver", "bronze"][i % 3] for i in range(len(records))],
    })
    pq.write_table(table, path)
    return len(records)


def _write_truth(truth_dir: Path, companies: list[Company], persons: list[Person], records: list[dict],
                 expected_quarantine: list[dict]) -> None:
    truth_cols = ["person_id", "source_system", "source_record_id", "record_index", "duplicate_kinds"] + \
        [k for k in records[0] if k.startswith("true_") or k.endswith("_is_valid")] if records else []
    rec_table = pa.table({k: [r[k] for r in records] for k in truth_cols}) if records else pa.table({})
    rec_table = rec_table.append_column("file_name", pa.array([FILE_NAMES[r["source_system"]] for r in records],
                                                              pa.string()))
    pq.write_table(rec_table, truth_dir / "records.parquet")
    pq.write_table(pa.table({
        "person_id": [p.person_id for p in persons],
        "first_name": [p.first_name for p in persons],
        "last_name": [p.last_name for p in persons],
        "email": [p.email for p in persons],
        "personal_email": [p.personal_email for p in persons],
        "phone_e164": [p.phone for p in persons],
        "phone_type": [p.phone_type for p in persons],
        "company_id": [p.company.company_id for p in persons],
        "previous_company_id": [p.previous_company.company_id if p.previous_company else None for p in persons],
        "job_title": [p.job_title for p in persons],
        "seniority": [p.seniority for p in persons],
        "department": [p.department for p in persons],
        "country_code": [p.country for p in persons],
        "city": [p.office.city for p in persons],
        "postal_code": [p.office.postal_code for p in persons],
        "switchboard_e164": [p.office.switchboard for p in persons],
        "opted_out": [p.opted_out for p in persons],
        "namesake_of": [p.namesake_of for p in persons],
    }), truth_dir / "persons.parquet")
    pq.write_table(pa.table({
        "company_id": [c.company_id for c in companies],
        "name": [c.name for c in companies],
        "legal_form": [c.legal_form for c in companies],
        "country_code": [c.country for c in companies],
        "domain": [c.domain for c in companies],
        "industry": [c.industry for c in companies],
        "employee_count": [c.employee_count for c in companies],
        "size_band": [c.size_band for c in companies],
        "revenue_range": [c.revenue_range for c in companies],
    }), truth_dir / "companies.parquet")
    pq.write_table(pa.table({
        "file_name": [e["file_name"] for e in expected_quarantine],
        "source_record_id": [e["source_record_id"] for e in expected_quarantine],
        "reason": [e["reason"] for e in expected_quarantine],
    }, schema=pa.schema([("file_name", pa.string()), ("source_record_id", pa.string()),
                         ("reason", pa.string())])), truth_dir / "expected_quarantine.parquet")


def generate(contacts: int, seed: int, landing_dir: Path, truth_dir: Path) -> DemoSummary:
    """Write demo exports to `landing_dir` and their ground truth to `truth_dir`."""
    return DemoGenerator(contacts, seed).write(Path(landing_dir), Path(truth_dir))
