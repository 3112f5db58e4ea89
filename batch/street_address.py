"""US street lines in USPS Publication 28 form: parsed by `usaddress`, rendered from the seeds.

`usaddress` (a conditional random field trained on US addresses) labels each word of a
line: house number, pre-directional, street name, suffix, post-directional, unit, PO box.
Labelling is the hard part, and a trained model gets the cases word lists cannot
("5 EAST DRIVE": EAST is the name; "4513 NUMBER FOUR ROAD": NUMBER is not a unit word;
"454 W 700 SOUTH": SOUTH is a post-directional). The words are then rendered in
Publication 28 form from three tables the caller passes in (the seeds
`usps_street_suffixes`, `usps_unit_designators` and `usps_directionals`), so an analyst
who adds a spelling to a seed changes the output without touching Python.

Around the model: a unit in a part of its own or closing the line is set apart first;
Publication 28's rules correct the model where it stumbles (of two suffix words the second
is the suffix; a directional before a lone suffix word is the name; an ordinal it takes for
a house number is the name; a type before a one-word name); a line the model places outside
an address is read by Publication 28's order with the seeds.

`parse_street_line(line, tables)` returns a StreetLine; a line neither reading takes as a
street address comes back with `issue` set and no rendering, for the model to flag.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import usaddress

HOUSE_LABELS = ("AddressNumberPrefix", "AddressNumber", "AddressNumberSuffix")
STREET_LABELS = ("StreetNamePreModifier", "StreetNamePreDirectional", "StreetNamePreType", "StreetName",
                 "StreetNamePostType", "StreetNamePostDirectional", "StreetNamePostModifier")
UNIT_LABELS = ("OccupancyType", "OccupancyIdentifier", "SubaddressType", "SubaddressIdentifier")
BOX_LABELS = ("USPSBoxGroupType", "USPSBoxGroupID", "USPSBoxType", "USPSBoxID")
# labels usaddress gives words after the street that it takes for a city ("12 MAIN ST BSMT"
# -> BSMT as PlaceName): read as unit words when the unit table knows them
TAIL_LABELS = ("PlaceName",)
ORDINAL = re.compile(r"^([0-9]+)(ST|ND|RD|TH)$")
PUNCTUATION = re.compile("[:()\"\r]")
DOT_BEFORE_DIGIT = re.compile(r"[.](?=[0-9])")


@dataclass(frozen=True)
class Tables:
    """The three seeds as lookups from an upper-case spelling."""

    suffixes: dict[str, tuple[str, str, bool]]   # spelling -> (standard abbreviation, primary name, is C1 now)
    designators: dict[str, tuple[str, bool]]     # spelling -> (standard abbreviation, needs a number)
    directionals: dict[str, str]                 # spelling -> abbreviation


@functools.lru_cache(maxsize=8)
def tables_from_text(suffixes: str, designators: str, directionals: str) -> Tables:
    """Tables from the seeds' rows as the model aggregates them: `key=code=...` joined by commas (string_list_agg)."""
    def rows(text: str) -> list[list[str]]:
        return [row.split("=") for row in (text or "").split(",") if row]
    return Tables(
        suffixes={r[0]: (r[1], r[2], r[3] == "true") for r in rows(suffixes)},
        designators={r[0]: (r[1], r[2] == "true") for r in rows(designators)},
        directionals={r[0]: r[1] for r in rows(directionals)},
    )


def tables_from_seeds(seed_dir: Path) -> Tables:
    """The same tables read from the seed files (tests, tools)."""
    def rows(name: str) -> list[dict[str, str]]:
        with (seed_dir / f"{name}.csv").open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    return Tables(
        suffixes={r["suffix_key"]: (r["suffix_code"], r["suffix_name"], r["source"] == "C1")
                  for r in rows("usps_street_suffixes")},
        designators={r["designator_key"]: (r["designator_code"], r["needs_number"] == "true")
                     for r in rows("usps_unit_designators")},
        directionals={r["directional_key"]: r["directional_code"] for r in rows("usps_directionals")},
    )


@dataclass
class StreetLine:
    house_number: str | None = None
    pre_directional: str | None = None
    pre_type: str | None = None
    street_name: str | None = None
    street_suffix: str | None = None
    post_directional: str | None = None
    unit: str | None = None
    street_address: str | None = None    # the line without its unit, in Publication 28 form
    issue: str | None = None
    units: list[tuple[str, str | None]] = field(default_factory=list)

    def as_tuple(self) -> tuple:
        return (self.house_number, self.pre_directional, self.pre_type, self.street_name, self.street_suffix,
                self.post_directional, self.unit, self.street_address, self.issue)


def segments(line: str | None) -> list[list[str]]:
    """The line's comma-separated parts as words: upper case, dots dropped, other punctuation as
    spaces, '#' its own word ("123 N. Main St., Suite #200" -> [[123 N MAIN ST], [SUITE # 200]])."""
    # a dot before a digit parts two words ("STE.200"); other dots go ("N.W." -> NW, "ST." -> ST)
    text = DOT_BEFORE_DIGIT.sub(" ", (line or "").upper())
    text = PUNCTUATION.sub(" ", text.replace(".", "").replace(";", ",").replace("\n", ","))
    parts = [" ".join(part.replace("#", " # ").split()) for part in text.split(",")]
    return [part.split() for part in parts if part]


def parse_street_line(line: str | None, tables: Tables) -> StreetLine:
    """The line in Publication 28 form; a line the parser fails on comes back flagged
    (`parser_error`), never an exception that would stop the night."""
    try:
        return _parse(line, tables)
    except Exception:  # noqa: BLE001 - a client's odd line is a quality problem, not a crash
        return StreetLine(issue="parser_error")


def _parse(line: str | None, tables: Tables) -> StreetLine:
    parts = segments(line)
    if not parts:
        return StreetLine(issue="empty")
    # a part of its own that is a unit ("..., Suite 200", "..., 17th Floor", "..., Bsmt")
    unit_words: list[str] = []
    street_parts = []
    for part in parts:
        if len(parts) > 1 and _is_unit_part(part, tables):
            unit_words += part
        else:
            street_parts.append(part)
    if not street_parts:
        return StreetLine(issue="no_street_name")
    tail = _unit_at_end([w for part in street_parts for w in part], tables)
    if tail:
        unit_words = tail + unit_words
        street_parts = _drop_last_words(street_parts, len(tail))
    words = [w for part in street_parts for w in part]

    result = None
    for label in (_label_type_before_name, _label_with_usaddress, _label_with_rules):
        labelled = label(words, street_parts, tables)
        if labelled is None:
            continue
        street, more_unit_words = labelled
        result = _finish(street, more_unit_words + unit_words, tables)
        if result.issue is None:
            return result
    return result or StreetLine(issue="not_a_street_line")


def _finish(street: dict[str, list[str]], unit_words: list[str], tables: Tables) -> StreetLine:
    result = StreetLine()
    result.units = _units(unit_words, tables)
    # a lone directional the model took for a unit ("770 S OAK BLVD E") is the post-directional
    if len(result.units) == 1 and result.units[0][0] == "#" and not street.get("StreetNamePostDirectional") \
            and result.units[0][1] in tables.directionals:
        street["StreetNamePostDirectional"] = [result.units[0][1]]
        result.units = []
    result.unit = " ".join(" ".join(w for w in unit if w) for unit in result.units) or None
    if "USPSBoxType" in street or "USPSBoxGroupType" in street:
        return _box(street, result)
    return _render(street, result, tables)


def _unit_at_end(words: list[str], tables: Tables) -> list[str]:
    """A unit closing the line after the suffix or a directional, with no comma before it
    ("12 MAIN ST BSMT", "4910 COUNTRY CLUB OVAL TRAILER 788", "8131 4TH FOREST KEY # 10C",
    "7482 HIGHWAY 283 LOT F"):
    the model tends to read such words as part of the street's name."""
    if len(words) >= 4 and _needs_no_number(words[-1], tables) \
            and (words[-2] in tables.suffixes or words[-2] in tables.directionals):
        return words[-1:]
    for start in (len(words) - 3, len(words) - 2):
        if start < 2 or not _is_designator(words[start], tables):
            continue
        number = [w for w in words[start + 1:] if w != "#"]
        before = words[start - 1]
        # after the suffix, a post-directional, or a type and its one-word name ("HWY 108")
        after_street = before in tables.suffixes or (start >= 3 and words[start - 2] in tables.suffixes and (
            before in tables.directionals or ONE_WORD_NAME.match(before)))
        if after_street and len(number) == 1 and ID_LIKE.match(number[0]):
            return words[start:]
    return []


def _drop_last_words(parts: list[list[str]], n: int) -> list[list[str]]:
    parts = [list(p) for p in parts]
    while n and parts:
        take = min(n, len(parts[-1]))
        parts[-1] = parts[-1][:len(parts[-1]) - take]
        n -= take
        if not parts[-1]:
            parts.pop()
    return parts


ONE_WORD_NAME = re.compile(r"^([A-Z]|[0-9]+[A-Z]?)$")


def _label_type_before_name(words: list[str], parts: list[list[str]], tables: Tables) \
        -> tuple[dict[str, list[str]], list[str]] | None:
    """A type before a one-word name: "6510 AVE N", "57599 Ave B", "467 HWY 94" (Publication 28,
    237); the model reads the type as a suffix there."""
    rest = list(words)
    street: dict[str, list[str]] = {}
    if rest and HOUSE_NUMBER.match(rest[0]):
        street["AddressNumber"] = [rest.pop(0)]
    if len(rest) == 3 and rest[0] in tables.directionals:
        street["StreetNamePreDirectional"] = [rest.pop(0)]
    if len(rest) == 2 and rest[0] in tables.suffixes and ONE_WORD_NAME.match(rest[1]):
        street["StreetNamePreType"], street["StreetName"] = [rest[0]], [rest[1]]
        return street, []
    return None


def _label_with_usaddress(words: list[str], parts: list[list[str]], tables: Tables) \
        -> tuple[dict[str, list[str]], list[str]] | None:
    """usaddress's labels, grouped; None when it places words outside a street address or
    labels out of order, for the rules to try."""
    try:
        tokens = usaddress.parse(", ".join(" ".join(p) for p in parts if p))
    except Exception:  # noqa: BLE001 - the model's own errors: let the rules try
        return None
    street: dict[str, list[str]] = {}
    unit_words: list[str] = []
    middle: list[tuple[str, str]] = []       # pre-modifier, pre-type and name words, in line order
    last_label = None
    street_seen = False
    for token, label in tokens:
        token = token.strip(",")
        if not token:
            continue
        if label in UNIT_LABELS or (label in TAIL_LABELS and street_seen and _is_designator(token, tables)):
            unit_words.append(token)
            continue
        if label not in HOUSE_LABELS + STREET_LABELS + BOX_LABELS:
            return None
        if label in street and label != last_label:
            return None
        last_label = label
        street_seen = street_seen or label in STREET_LABELS
        street.setdefault(label, []).append(token)
        if label in ("StreetNamePreModifier", "StreetNamePreType", "StreetName"):
            middle.append((label, token))
    # a type word is a type before the name only when it opens the name ("HIGHWAY 50",
    # "AVENUE B"), not inside it ("EL CAMINO REAL")
    leading_types = []
    while middle and middle[0][0] == "StreetNamePreType":
        leading_types.append(middle.pop(0)[1])
    street.pop("StreetNamePreType", None)
    street.pop("StreetNamePreModifier", None)
    if leading_types and middle:
        street["StreetNamePreType"] = leading_types
        street["StreetName"] = [token for _, token in middle]
    else:
        street["StreetName"] = leading_types + [token for _, token in middle]
    if not street["StreetName"]:
        del street["StreetName"]
    name = street.get("StreetName", [])
    # an ordinal read as a house number is the street's name ("3RD ALLEE", "1ST FORD")
    number = street.get("AddressNumber", [])
    if len(number) == 1 and ORDINAL.match(number[0]) and len(name) <= 1:
        street["StreetName"] = name = number + name
        del street["AddressNumber"]
    # a directional before a lone suffix word is the street's name ("8430 WEST WAYS")
    pre_dir = street.get("StreetNamePreDirectional")
    if pre_dir and len(name) == 1 and name[0] in tables.suffixes and "StreetNamePostType" not in street \
            and "StreetNamePreType" not in street:
        street["StreetNamePostType"] = name
        street["StreetName"] = name = pre_dir
        del street["StreetNamePreDirectional"]
    # a suffix word after the suffix ("MOUNTAIN VIEW EXT"): the second is the suffix (234.2)
    modifier = street.get("StreetNamePostModifier", [])
    if len(modifier) == 1 and modifier[0] in tables.suffixes and "StreetNamePostType" in street:
        name += street.pop("StreetNamePostType")
        street["StreetNamePostType"] = street.pop("StreetNamePostModifier")
    # Publication 28, 234.2: of two suffix words the second is the suffix ("PINE COMMON S",
    # a suffix the model does not know)
    if len(name) >= 2 and "StreetNamePostType" not in street and "StreetNamePreType" not in street \
            and name[-1] in tables.suffixes:
        street["StreetNamePostType"] = [name.pop()]
    return street, unit_words


HOUSE_NUMBER = re.compile(r"^([0-9]+[A-Z]?|[NSEW][0-9]+[A-Z]?|[0-9]+-[0-9]+[A-Z]?)$")
FRACTION = re.compile(r"^[0-9]/[0-9]$")


def _label_with_rules(words: list[str], parts: list[list[str]], tables: Tables) \
        -> tuple[dict[str, list[str]], list[str]] | None:
    """The line read by Publication 28's order alone, with the seeds: [house number]
    [pre-directional] name [suffix] [post-directional] [unit]; for lines the model cannot
    label ("PINE GREEN", "LINCOLN MISSION")."""
    words = list(words)
    unit_words: list[str] = []
    for i in range(len(words) - 1, 0, -1):     # a unit at the end: "... APT 4", "... # 4"
        if _is_designator(words[i], tables) and len(words) - i <= 3 and i >= 2:
            unit_words, words = words[i:], words[:i]
            break
    street: dict[str, list[str]] = {}
    if len(words) > 1 and HOUSE_NUMBER.match(words[0]):
        street["AddressNumber"] = [words.pop(0)]
        if len(words) > 1 and FRACTION.match(words[0]):
            street["AddressNumberSuffix"] = [words.pop(0)]
    if len(words) >= 2 and words[0] in tables.directionals and not (len(words) == 2 and words[1] in tables.suffixes):
        street["StreetNamePreDirectional"] = [words.pop(0)]
    if len(words) >= 2 and words[-1] in tables.directionals:
        street["StreetNamePostDirectional"] = [words.pop()]
    if len(words) >= 2 and words[-1] in tables.suffixes:
        street["StreetNamePostType"] = [words.pop()]
    # without a name, or without a house number or a suffix, nothing says this is a street
    # ("C/O FRONT DESK")
    if not words or ("AddressNumber" not in street and "StreetNamePostType" not in street):
        return None
    street["StreetName"] = words
    return street, unit_words


def _render(street: dict[str, list[str]], result: StreetLine, tables: Tables) -> StreetLine:
    house = " ".join(w for label in HOUSE_LABELS for w in street.get(label, []))
    pre_dir = street.get("StreetNamePreDirectional", [])
    pre_type = street.get("StreetNamePreType", [])
    name = street.get("StreetName", [])
    post_type = street.get("StreetNamePostType", [])
    post_dir = street.get("StreetNamePostDirectional", [])
    if not name:
        # a directional that is the street's name: "17701 E AVENUE" (E AVE), "5 E DR"
        if pre_dir and (pre_type or post_type):
            name, pre_dir = pre_dir, []
        elif post_dir and (pre_type or post_type):
            name, post_dir = post_dir, []
        if pre_type and not post_type:
            # "17701 E AVENUE": the type word follows the name, so it is the suffix
            post_type, pre_type = pre_type, []
    if not name:
        return StreetLine(issue="no_street_name")

    result.house_number = house or None
    result.pre_directional = _directional(pre_dir, tables)
    result.pre_type = " ".join(_type_name(w, tables) for w in pre_type) or None
    result.street_name = " ".join(name) or None
    result.street_suffix = _suffix(post_type, tables)
    result.post_directional = _directional(post_dir, tables)
    result.street_address = " ".join(p for p in (
        result.house_number, result.pre_directional, result.pre_type, result.street_name, result.street_suffix,
        result.post_directional, " ".join(street.get("StreetNamePostModifier", []))) if p)
    return result


def _is_designator(word: str, tables: Tables) -> bool:
    return word in tables.designators


def _needs_no_number(word: str, tables: Tables) -> bool:
    known = tables.designators.get(word)
    return known is not None and not known[1]


ID_LIKE = re.compile(r"^([0-9]+[A-Z]?|[A-Z][0-9]*|[0-9]+(ST|ND|RD|TH)|[0-9]+-[0-9A-Z]+)$")


def _is_unit_part(part: list[str], tables: Tables) -> bool:
    """A comma-separated part that is a unit: it opens with a designator ("SUITE 200", "# 5",
    "BSMT") or ends with one after a number ("17TH FLOOR")."""
    if _is_designator(part[0], tables) and (len(part) > 1 or _needs_no_number(part[0], tables) or part[0] == "#"):
        return len(part) <= 4
    return len(part) == 2 and _is_designator(part[1], tables) and bool(ID_LIKE.match(part[0]))


def _directional(words: list[str], tables: Tables) -> str | None:
    if not words:
        return None
    joined = " ".join(words)
    return tables.directionals.get(joined) or tables.directionals.get("".join(words)) or joined


def _suffix(words: list[str], tables: Tables) -> str | None:
    if not words:
        return None
    joined = " ".join(words)
    known = tables.suffixes.get(joined)
    return known[0] if known else joined


def _type_name(word: str, tables: Tables) -> str:
    """A type before the name is spelled out (HWY 101 -> HIGHWAY 101; AVE B -> AVENUE B); only
    spellings of the current C1 table, so an old-style 'CR 12' (county road) stays as written."""
    known = tables.suffixes.get(word)
    return known[1] if known and known[2] else word


def _units(words: list[str], tables: Tables) -> list[tuple[str, str | None]]:
    """Unit words -> (designator, number) pairs: "STE 200", "U 4" -> (UNIT, 4), "2ND FL" -> (FL, 2),
    "# 5" -> (#, 5), "BSMT" -> (BSMT, None); a number with no designator gets '#'."""
    units: list[list] = []
    pending: list[str] = []       # numbers seen before any designator ("2ND FL")
    for word in words:
        known = tables.designators.get(word)
        if known is None:
            (units[-1][1] if units else pending).append(word)
            continue
        if units and not units[-1][1]:         # the designator before has no number yet
            if known[0] == "#":                 # "APT # 5"
                continue
            if units[-1][0] == "#":             # "# APT 5"
                units[-1][0] = known[0]
                continue
        units.append([known[0], []])
    if pending:
        if units and not units[0][1]:
            units[0][1] = pending            # "2ND FL" -> FL 2ND
        else:
            units.insert(0, ["#", pending])
    out = []
    for code, number_words in units:
        number = " ".join(w for w in number_words if w != "#") or None
        if number and code == "FL":
            number = ORDINAL.sub(r"\1", number)
        out.append((code, number))
    return out


def _box(parts: dict[str, list[str]], result: StreetLine) -> StreetLine:
    box_type = " ".join(parts.get("USPSBoxType", []))
    box_type = "PO BOX" if box_type.replace(" ", "") in {"POBOX", "POSTOFFICEBOX", "POB", "BOX"} and \
        "USPSBoxGroupType" not in parts else box_type
    group = " ".join(parts.get("USPSBoxGroupType", []) + parts.get("USPSBoxGroupID", []))
    box = " ".join(p for p in (group, box_type, " ".join(parts.get("USPSBoxID", []))) if p)
    if not parts.get("USPSBoxID") and not parts.get("USPSBoxGroupID"):
        return StreetLine(issue="no_box_number")
    result.street_address = box
    return result
