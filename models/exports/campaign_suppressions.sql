-- The addresses no campaign may mail, written each night to EXPORT_DIR/suppressions.csv
-- for the campaign tools' global unsubscribe list: every address (as cleaned) of every
-- record of a contact that opted out or is on the suppression list. One row per address.

with

consent as (

    select contact_id, is_opted_out, is_suppressed
    from {{ ref('enriched_contact_consent') }}
    where not can_be_contacted

),

identity_map as (

    select contact_record_id, contact_id from {{ ref('contact_identity_map') }}

),

record_emails as (

    select contact_record_id, email_address from {{ ref('cleaned_contacts') }}
    where email_address is not null and is_email_valid

),

addresses as (

    select
        record_emails.email_address,
        consent.contact_id,
        case when consent.is_opted_out then 'opted_out' else 'suppressed' end as reason
    from record_emails
    inner join identity_map on record_emails.contact_record_id = identity_map.contact_record_id
    inner join consent on identity_map.contact_id = consent.contact_id

),

final as (

    -- an address two contacts share is listed once: opted out wins over suppressed
    select
        email_address,
        min(reason) as reason,
        min(contact_id) as contact_id
    from addresses
    group by email_address

)

select * from final
