-- Whether each live contact may be contacted, and why not. A contact is opted out when
-- any of its source records opted out, and suppressed when any address of any of its
-- records (as cleaned, or as exported) is on the suppression list. Only contacts that
-- can_be_contacted are enriched or exported.

with

contacts as (

    select contact_id, is_opted_out from {{ ref('golden_contacts') }}

),

identity_map as (

    select contact_record_id, contact_id from {{ ref('contact_identity_map') }}

),

cleaned as (

    select contact_record_id, email_address, email_original from {{ ref('cleaned_contacts') }}

),

-- both hashes of every address of every record (as cleaned, and as exported): the list
-- holds keyed hashes (what the project hashed) and plain sha256 (what a client or analyst
-- supplied). One select per address and hash, each straight from the records: Spark
-- cannot push a projection holding the keyed hash's lookup (normalisers = table) through
-- a union (PushProjectionThroughUnion fails on the lookup's correlated column)
record_email_hashes as (

    select contact_record_id, {{ sha256_hex('lower(trim(email_address))') }} as email_hash from cleaned
    where email_address is not null
    union all
    select contact_record_id, {{ sha256_hex('lower(trim(email_original))') }} as email_hash from cleaned
    where email_original is not null
    union all
    select contact_record_id, {{ keyed_email_hash('email_address') }} as email_hash from cleaned
    where email_address is not null
    union all
    select contact_record_id, {{ keyed_email_hash('email_original') }} as email_hash from cleaned
    where email_original is not null

),

suppression_list as (

    select * from {{ ref('suppression_list') }}

),

suppressed_contacts as (

    select
        identity_map.contact_id,
        min(suppression_list.reason) as suppression_reason
    from record_email_hashes
    inner join identity_map on record_email_hashes.contact_record_id = identity_map.contact_record_id
    inner join suppression_list on record_email_hashes.email_hash = suppression_list.email_hash
    group by identity_map.contact_id

),

final as (

    select
        contacts.contact_id,
        contacts.is_opted_out,
        suppressed_contacts.contact_id is not null as is_suppressed,
        suppressed_contacts.suppression_reason,
        not contacts.is_opted_out and suppressed_contacts.contact_id is null as can_be_contacted
    from contacts
    left join suppressed_contacts on contacts.contact_id = suppressed_contacts.contact_id

)

select * from final
