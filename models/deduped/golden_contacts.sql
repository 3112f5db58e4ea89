{{ config(materialized='view') }}

-- Public model: the golden record, one row per live contact (the enriched layer extends
-- it into dim_contacts). Built incrementally in deduped_golden_records; see there for
-- the survivorship rules and their provenance columns. A contact whose every source
-- record its CRM deleted (deduped_deleted_contacts) is not live: it leaves the lists.

select {{ star_except(ref('deduped_golden_records'), ['members_fingerprint', 'is_live']) }}
from {{ ref('deduped_golden_records') }} as golden_records
where
    golden_records.is_live
    and not exists (
        select 1 from {{ ref('deduped_deleted_contacts') }} as deleted
        where deleted.contact_id = golden_records.contact_id
    )
