-- Nothing is lost in deduplication: every cleaned record is in the identity map exactly
-- once, and every contact in the identity map has a golden record (and no golden record
-- is without records). Fails with the records or contacts that break this.

with

cleaned as (

    select contact_record_id from {{ ref('cleaned_contacts') }}

),

identity_map as (

    select contact_record_id, contact_id from {{ ref('contact_identity_map') }}

),

golden as (

    select contact_id, source_record_count from {{ ref('golden_contacts') }}

),

records_per_contact as (

    select contact_id, count(*) as records
    from identity_map
    group by contact_id

)

select 'record without contact' as problem, cleaned.contact_record_id as id
from cleaned
left join identity_map on cleaned.contact_record_id = identity_map.contact_record_id
where identity_map.contact_record_id is null

union all

select 'golden record count differs' as problem, golden.contact_id as id
from golden
left join records_per_contact on golden.contact_id = records_per_contact.contact_id
where records_per_contact.records is distinct from golden.source_record_count
