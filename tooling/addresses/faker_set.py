"""Faker's en_US addresses as an evaluation set: another author's model of a US address.

Faker draws a house number (three to five digits, leading zeros kept), a person's first or
last name and a suffix from its own list of full suffix names ("Circles", "Ramp",
"Crossroad"), and a unit in its own two forms ("Apt. 748", "Suite 958"), written on the
street line as Faker writes it. The expected Publication 28 form is worked out from the
parts drawn, with the C1 table of tooling/addresses/pub28.py.
"""

from __future__ import annotations

import random

from faker import Faker

from tooling.addresses.pub28 import AddressCase, _write_case, c1_spellings

UNIT_CODES = {"Apt.": "APT", "Suite": "STE"}


def faker_cases(n: int = 3_000, seed: int = 11) -> list[AddressCase]:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    r = random.Random(seed)
    table = c1_spellings()
    cases = []
    for i in range(n):
        house = fake.building_number()
        name = fake.last_name() if r.random() < 0.5 else fake.first_name()
        suffix = fake.street_suffix()
        line = f"{house} {name} {suffix}"
        unit_expected = None
        if r.random() < 0.4:
            secondary = fake.secondary_address()          # "Apt. 748", "Suite 958"
            designator, number = secondary.split(" ")
            unit_expected = f"{UNIT_CODES[designator]} {number}"
            line = f"{line} {secondary}"
        city, state = fake.city(), fake.state_abbr(include_territories=False)
        plus4 = r.random() < 0.3
        postal = fake.zipcode_plus4() if plus4 else fake.zipcode()
        zip5, _, extension = postal.partition("-")
        cases.append(AddressCase(
            record_id=f"fkr-{i:05d}", form="faker", street_line_1=_write_case(r, line) if r.random() < 0.5 else line,
            street_line_2=None, city=r.choice([city, city, city.upper(), city.lower()]), state=state,
            postal_code=postal, expected_street_address=f"{house} {name.upper()} {table[suffix.upper()]}",
            expected_street_unit=unit_expected, expected_city=city, expected_state_code=state,
            expected_postal_code=zip5, expected_postal_code_extension=extension or None))
    return cases
