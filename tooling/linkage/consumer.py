"""A second generator of labelled contacts, written against another model than the demo's.

The demo generator (tooling/demo) writes B2B contacts: people at companies with work
mailboxes, switchboards and offices, and the deduped rules were tuned on it. This one writes
consumers, from Faker's US name and address tables (their real frequencies: many namesakes):

- households: couples and children share a surname, an address, often a landline and
  sometimes one family mailbox; a few twins (one birth date, two first names) and fathers
  and sons of one name (a "Jr", another birth date);
- life between exports: people move (a new address, a new landline), marry (a new or
  hyphenated last name), change mailbox or mobile;
- four sources with their own headers, fields and formats (a CRM, a web shop, event
  registrations, a newsletter), each leaving some fields blank;
- noise of another kind than the demo's: keyboard slips (a neighbouring key, a doubled,
  dropped or swapped letter), OCR confusions (rn/m, cl/d, 0/o, 1/l, 5/s), nicknames from
  its own table, initials, swapped first and last names, a birth date with day and month
  swapped or one digit wrong, ZIPs with transposed digits, addresses spelled out or cut.

Every record carries its person's id (the truth): `write_consumer_set` writes the files and
returns (source_system, source_record_id, entity_id) rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

from faker import Faker

from tooling.linkage.files import write_csv

# a nickname table of its own (not the project's seeds/nicknames.csv)
NICKNAMES = {
    "robert": ["bob", "rob", "bobby"], "william": ["bill", "will", "billy"], "richard": ["rick", "dick"],
    "james": ["jim", "jimmy"], "john": ["jack", "johnny"], "michael": ["mike", "mikey"],
    "joseph": ["joe", "joey"], "thomas": ["tom", "tommy"], "charles": ["chuck", "charlie"],
    "christopher": ["chris"], "daniel": ["dan", "danny"], "matthew": ["matt"], "anthony": ["tony"],
    "david": ["dave"], "steven": ["steve"], "stephen": ["steve"], "andrew": ["andy", "drew"],
    "joshua": ["josh"], "kenneth": ["ken", "kenny"], "edward": ["ed", "eddie", "ted"],
    "timothy": ["tim"], "ronald": ["ron"], "jeffrey": ["jeff"], "benjamin": ["ben"],
    "samuel": ["sam"], "patrick": ["pat"], "alexander": ["alex"], "nicholas": ["nick"],
    "jonathan": ["jon"], "gregory": ["greg"], "raymond": ["ray"], "lawrence": ["larry"],
    "elizabeth": ["liz", "beth", "betty"], "jennifer": ["jen", "jenny"], "margaret": ["maggie", "peggy"],
    "patricia": ["pat", "patty", "trish"], "katherine": ["kate", "kathy"], "catherine": ["cathy", "kate"],
    "kimberly": ["kim"], "deborah": ["debbie", "deb"], "rebecca": ["becky"], "susan": ["sue"],
    "jessica": ["jess"], "christina": ["tina"], "victoria": ["vicky"], "samantha": ["sam"],
    "stephanie": ["steph"], "cynthia": ["cindy"], "pamela": ["pam"], "kathleen": ["kathy"],
    "abigail": ["abby"], "alexandra": ["alex"], "theresa": ["terry"], "dorothy": ["dot"],
}

KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
OCR = [("rn", "m"), ("m", "rn"), ("cl", "d"), ("d", "cl"), ("o", "0"), ("l", "1"), ("s", "5"), ("i", "l"),
       ("e", "c")]
FREE_MAIL = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com", "comcast.net"]
SPELLED = {"St": "Street", "Ave": "Avenue", "Rd": "Road", "Dr": "Drive", "Ln": "Lane", "Ct": "Court",
           "Blvd": "Boulevard", "Pl": "Place", "Cir": "Circle", "Way": "Way"}

# source -> header of each field it carries (None: the source does not have it), chance a
# carried field is left blank, birth-date format, how names are written
SOURCES = {
    "crm": {"header": {"id": "Contact ID", "first": "First Name", "last": "Last Name", "email": "Email",
                       "phone": "Phone", "street": "Mailing Street", "city": "Mailing City",
                       "state": "Mailing State", "zip": "Mailing Zip", "dob": "Birthdate"},
            "blank": 0.08, "dob_format": "%m/%d/%Y", "full_name": False},
    "shop": {"header": {"id": "customer_id", "name": "name", "email": "email", "phone": "telephone",
                        "street": "address1", "city": "city", "state": "province", "zip": "zip",
                        "dob": "date_of_birth"},
             "blank": 0.12, "dob_format": "%Y-%m-%d", "full_name": True},
    "events": {"header": {"id": "registrant_id", "first": "first", "last": "last", "email": "e-mail",
                          "phone": "mobile", "city": "town", "zip": "postcode", "dob": "DOB"},
               "blank": 0.2, "dob_format": "%d.%m.%Y", "full_name": False},
    "newsletter": {"header": {"id": "subscriber_id", "first": "firstname", "last": "lastname",
                              "email": "email_address", "zip": "zip_code"},
                   "blank": 0.15, "dob_format": None, "full_name": False, "required": ["email"]},
}


@dataclass
class Home:
    street: str
    city: str
    state: str
    zip: str
    landline: str | None


@dataclass
class Person:
    entity_id: str
    first: str
    last: str
    sex: str
    dob: date
    home: Home
    email: str | None
    mobile: str | None
    suffix: str = ""
    history: list[Person] = field(default_factory=list)  # earlier states (before a move, a marriage)


class ConsumerGenerator:
    def __init__(self, people: int, seed: int) -> None:
        self.people = people
        self.r = random.Random(seed)
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.next_id = 0

    # -- the world ---------------------------------------------------------------------

    def _home(self) -> Home:
        landline = self._phone() if self.r.random() < 0.45 else None
        return Home(self.fake.street_address(), self.fake.city(), self.fake.state_abbr(include_territories=False),
                    self.fake.zipcode(), landline)

    def _phone(self) -> str:
        return f"{self.r.randint(201, 989)}{self.r.randint(200, 999)}{self.r.randint(0, 9999):04d}"

    def _email(self, first: str, last: str, dob: date) -> str:
        f, la = first.lower(), last.lower().replace(" ", "").replace("'", "")
        local = self.r.choice([f"{f}.{la}", f"{f}{la}", f"{f[0]}{la}", f"{f}_{la}{dob.year % 100:02d}",
                               f"{la}{f[0]}{self.r.randint(1, 99)}", f"{f}{self.r.randint(1, 999)}"])
        return f"{local}@{self.r.choice(FREE_MAIL)}"

    def _person(self, sex: str, last: str, home: Home, dob: date, first: str | None = None) -> Person:
        self.next_id += 1
        first = first or (self.fake.first_name_female() if sex == "f" else self.fake.first_name_male())
        email = self._email(first, last, dob) if self.r.random() < 0.8 else None
        mobile = self._phone() if self.r.random() < 0.7 else None
        return Person(f"p{self.next_id}", first, last, sex, dob, home, email, mobile)

    def _birth(self, low: int, high: int) -> date:
        return date(2026, 1, 1) - timedelta(days=self.r.randint(low * 365, high * 365))

    def household(self) -> list[Person]:
        home, last = self._home(), self.fake.last_name()
        adult = self.r.random()
        first = self._person(self.r.choice("mf"), last, home, self._birth(22, 85))
        members = [first]
        if adult < 0.55:  # a couple, most sharing the surname
            partner_last = last if self.r.random() < 0.75 else self.fake.last_name()
            members.append(self._person("f" if first.sex == "m" else "m", partner_last, home,
                                        first.dob + timedelta(days=self.r.randint(-2500, 2500))))
            family_mail = f"the{last.lower()}s@{self.r.choice(FREE_MAIL)}"
            if self.r.random() < 0.1:  # one family mailbox
                for m in members:
                    m.email = family_mail
        if len(members) == 2 and self.r.random() < 0.4:  # children at home
            base = self._birth(14, 25)
            for k in range(self.r.randint(1, 3)):
                dob = base if k == 1 and self.r.random() < 0.15 else base - timedelta(days=400 * k)  # twins
                child = self._person(self.r.choice("mf"), last, home, dob)
                if k == 0 and first.sex == "m" and child.sex == "m" and self.r.random() < 0.15:
                    child.first, child.suffix = first.first, "Jr"  # a son of the father's name
                    child.email = self._email(child.first, last, dob) if self.r.random() < 0.8 else None
                if child.dob > self._birth(16, 16):  # the youngest have no mailbox or mobile yet
                    child.email = child.mobile = None
                members.append(child)
        return members

    def life_event(self, p: Person) -> Person:
        """The person some time later: moved, married, new mailbox or mobile (or unchanged)."""
        later = replace(p, history=[])
        roll = self.r.random()
        if roll < 0.25:
            later.home = self._home()
        elif roll < 0.35 and p.sex == "f" and p.dob < self._birth(20, 20):
            new_last = self.fake.last_name()
            later.last = f"{p.last}-{new_last}" if self.r.random() < 0.2 else new_last
        if self.r.random() < 0.15:
            later.email = self._email(later.first, later.last, p.dob)
        if self.r.random() < 0.1:
            later.mobile = self._phone()
        return later

    # -- noise -------------------------------------------------------------------------

    def keyboard(self, word: str) -> str:
        if len(word) < 3:
            return word
        i = self.r.randrange(1, len(word))
        kind = self.r.choice(["neighbour", "double", "drop", "swap"])
        if kind == "swap" and i < len(word) - 1:
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if kind == "drop":
            return word[:i] + word[i + 1:]
        if kind == "double":
            return word[:i] + word[i] + word[i:]
        c = word[i].lower()
        for row in KEYBOARD:
            if c in row:
                j = row.index(c)
                near = row[max(j - 1, 0):j] + row[j + 1:j + 2]
                return word[:i] + self.r.choice(near) + word[i + 1:]
        return word

    def ocr(self, word: str) -> str:
        options = [(a, b) for a, b in OCR if a in word.lower()]
        if not options:
            return word
        a, b = self.r.choice(options)
        i = word.lower().index(a)
        return word[:i] + b + word[i + len(a):]

    def noisy_name(self, name: str) -> str:
        roll = self.r.random()
        if roll < 0.05:
            name = self.keyboard(name)
        elif roll < 0.08:
            name = self.ocr(name)
        return self.case(name)

    def case(self, text: str) -> str:
        roll = self.r.random()
        return text.upper() if roll < 0.1 else text.lower() if roll < 0.18 else text

    def first_name_form(self, first: str) -> str:
        roll = self.r.random()
        nicks = NICKNAMES.get(first.lower())
        if nicks and roll < 0.3:
            return self.r.choice(nicks).title()
        if roll < 0.35:
            return first[0] + ("." if self.r.random() < 0.5 else "")
        return self.noisy_name(first)

    def street_form(self, street: str) -> str:
        words = street.split(" ")
        roll = self.r.random()
        if roll < 0.2:
            words = [SPELLED.get(w, w) for w in words]
        elif roll < 0.25:
            words = [w for w in words if not w.startswith(("Apt.", "Suite"))]
        text = " ".join(words)
        roll = self.r.random()
        if roll < 0.04:
            text = self.keyboard(text)
        elif roll < 0.06:
            text = self.ocr(text)
        return self.case(text)

    def dob_form(self, dob: date, fmt: str) -> str:
        roll = self.r.random()
        if roll < 0.03 and dob.day <= 12:
            dob = date(dob.year, dob.day, dob.month)  # day and month swapped
        text = dob.strftime(fmt)
        if 0.03 <= roll < 0.05:
            i = self.r.choice([k for k, ch in enumerate(text) if ch.isdigit()])
            text = text[:i] + str(self.r.randint(0, 9)) + text[i + 1:]
        return text

    def zip_form(self, code: str) -> str:
        if self.r.random() < 0.02:
            i = self.r.randrange(0, 4)
            code = code[:i] + code[i + 1] + code[i] + code[i + 2:]
        return code[1:] if code.startswith("0") and self.r.random() < 0.3 else code  # Excel ate the zero

    def phone_of(self, p: Person) -> str | None:
        """Mostly the mobile; sometimes the household's landline instead."""
        if self.r.random() < 0.7:
            return p.mobile or p.home.landline
        return p.home.landline or p.mobile

    def phone_form(self, digits: str) -> str:
        return self.r.choice([f"({digits[:3]}) {digits[3:6]}-{digits[6:]}", f"{digits[:3]}-{digits[3:6]}-{digits[6:]}",
                              f"+1 {digits[:3]} {digits[3:6]} {digits[6:]}", digits, f"1{digits}"])

    # -- records -----------------------------------------------------------------------

    def record(self, p: Person, source: str) -> dict[str, str | None]:
        spec = SOURCES[source]
        header = spec["header"]

        def blank(value: str | None) -> str | None:
            return None if value is None or self.r.random() < spec["blank"] else value


        first, last = self.first_name_form(p.first), self.noisy_name(p.last)
        if self.r.random() < 0.01:
            first, last = last, first  # typed into the wrong fields
        values: dict[str, str | None] = {
            "first": blank(first), "last": last if self.r.random() > 0.02 else None,
            "email": p.email if "email" in spec.get("required", []) else blank(p.email),
            "phone": blank(self.phone_of(p)),
            "street": blank(self.street_form(p.home.street)), "city": blank(self.case(p.home.city)),
            "state": blank(p.home.state), "zip": blank(self.zip_form(p.home.zip)),
            "dob": blank(self.dob_form(p.dob, spec["dob_format"])) if spec["dob_format"] else None,
        }
        if values["phone"]:
            values["phone"] = self.phone_form(values["phone"])
        if values["email"] and self.r.random() < 0.1:
            values["email"] = values["email"].upper() if self.r.random() < 0.5 else values["email"].title()
        if p.suffix and self.r.random() < 0.6:
            values["last"] = f"{values['last']} {p.suffix}" if values["last"] else None
        if spec["full_name"]:
            f, la = values.pop("first"), values.pop("last")
            # a name field holds the whole name, or nothing when a part is unknown
            values["name"] = (f"{la}, {f}" if self.r.random() < 0.3 else f"{f} {la}") if f and la else None
        return {header[k]: v for k, v in values.items() if k in header}

    def build(self) -> dict[str, list[tuple[str, dict[str, str | None]]]]:
        """Records per source, each with its person's id."""
        files: dict[str, list[tuple[str, dict[str, str | None]]]] = {s: [] for s in SOURCES}
        made = 0
        while made < self.people:
            for person in self.household():
                made += 1
                copies = self.r.choices([1, 2, 3, 4], weights=[45, 33, 15, 7])[0]
                state = person
                for k in range(copies):
                    if k and self.r.random() < 0.4:
                        state = self.life_event(state)
                    source = self.r.choices(list(SOURCES), weights=[40, 30, 20, 10])[0]
                    if state.email is None and "email" in SOURCES[source].get("required", []):
                        source = "crm"  # a newsletter needs a mailbox: this person signed up elsewhere
                    files[source].append((person.entity_id, self.record(state, source)))
        return files


def write_consumer_set(landing: Path, people: int, seed: int) -> list[tuple[str, str, str]]:
    """The consumer files under `landing` (one per source); returns the truth rows."""
    truth = []
    for source, records in ConsumerGenerator(people, seed).build().items():
        spec = SOURCES[source]
        header = list(spec["header"].values())
        id_header = spec["header"]["id"]
        rows = []
        for n, (entity, rec) in enumerate(records, start=1):
            rec[id_header] = f"{source[:2].upper()}{n:07d}"
            rows.append([rec.get(h) for h in header])
            truth.append((source, rec[id_header], entity))
        write_csv(landing / f"{source}__consumers.csv", header, rows)
    return truth
