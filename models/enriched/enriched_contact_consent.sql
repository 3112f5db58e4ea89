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

record_emails as (

    select contact_record_id, email_address as email from {{ ref('cleaned_contacts') }}
    where email_address is not null
    union all
    select contact_record_id, email_original as email from {{ ref('cleaned_contacts') }}
    where email_original is not null

),

-- both hashes of every address: the list holds keyed hashes (what the project hashed)
-- and plain sha256 (what a client or analyst supplied)
record_email_hashes as (

    select contact_record_id, {{ sha256_hex('lower(trim(email))') }} as email_hash from record_emails
    union all
    select contact_record_id, {{ keyed_email_hash('email') }} as email_hash from record_emails

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
