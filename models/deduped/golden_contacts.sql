{{ config(materialized='view') }}

-- Public model: the golden record, one row per live contact (the enriched layer extends
-- it into dim_contacts). Built incrementally in deduped_golden_records; see there for
-- the survivorship rules and their provenance columns.

select {{ star_except(ref('deduped_golden_records'), ['members_fingerprint', 'is_live']) }}
from {{ ref('deduped_golden_records') }}
where is_live
