-- One row: the three USPS Publication 28 tables as the texts street_parse reads, and
-- their checksum (the usps_street_tables macro, which cleaned_contact_addresses uses
-- too). batch.normalise reads the texts from here when it parses the street lines
-- cleaned_normaliser_inputs lists under that checksum.

{{ usps_street_tables() }}
