"""Evaluation sets for the cleaned layer's postal addresses, written apart from the demo.

- pub28: street lines built from USPS Publication 28's own tables (every C1 suffix
  spelling, every C2 unit designator, directionals before and after, house-number forms,
  highways, a directional or a suffix word as the street's name) and written the ways
  exports write them; its own copy of the tables, its own corruption model.
- faker: Faker's en_US addresses (its own street-suffix list, "Apt."/"Suite" units,
  five-digit house numbers with leading zeros), with the expected form worked out from the
  parts Faker drew.

`contacts-demo addresses` loads each set through the real batch (load, dbt seed, staging
and cleaned layers) into a warehouse of its own and scores each field against the truth.
"""
