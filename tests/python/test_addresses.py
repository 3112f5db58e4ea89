"""The cleaned layer's postal addresses on the address sets written apart from the demo.

A real load and dbt build of the staging and cleaned layers (tooling/addresses/evaluate.py),
scored field by field against each set's expected values: the corpus built from USPS
Publication 28's tables, Faker's en_US addresses and the held-back clerk set.
"""

from __future__ import annotations

from tooling.addresses.clerk import clerk_cases
from tooling.addresses.evaluate import TARGETS, evaluate, render
from tooling.addresses.faker_set import faker_cases
from tooling.addresses.pub28 import C2_TABLE, Pub28Corpus, c1_spellings


def test_the_corpus_holds_every_c1_spelling_and_c2_designator():
    cases = Pub28Corpus().cases()
    lines = " ".join(f"{c.street_line_1} {c.street_line_2 or ''}".upper().replace(".", "") for c in cases).split()
    assert set(c1_spellings()) <= set(lines)
    assert set(C2_TABLE) | {code for code, _ in C2_TABLE.values()} <= set(lines)
    forms = {c.form for c in cases}
    assert {"post_directional", "no_house_number", "grid_house_number", "hyphenated_house_number",
            "directional_as_name", "highway"} <= forms


def test_address_sets_meet_their_targets(tmp_path):
    results = evaluate({"pub28": Pub28Corpus().cases(), "faker": faker_cases(800), "clerk": clerk_cases(800)},
                       tmp_path, show_failures=20)
    report = render(results)
    assert {r.name: r.records for r in results} == {"pub28": len(Pub28Corpus().cases()), "faker": 800, "clerk": 800}
    for result in results:
        for field, correct in result.correct.items():
            assert correct / result.records >= TARGETS[field], f"{result.name} {field}\n{report}"
