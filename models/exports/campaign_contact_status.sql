-- What became of every contact id ever handed out, so the exports can say why a contact
-- left a campaign list (removes.csv): still live (with its consent and e-mail validity),
-- deleted in its CRMs (every record of it), merged into a surviving contact, or erased
-- (its founding record is gone).

with

registry as (

    select contact_id from {{ ref('contact_id_registry') }}

),

aliases as (

    select retired_contact_id, contact_id from {{ ref('contact_id_aliases') }}

),

deleted as (

    select contact_id from {{ ref('deduped_deleted_contacts') }}

),

contacts as (

    select contact_id, is_opted_out, is_suppressed, is_email_valid from {{ ref('dim_contacts') }}

),

final as (

    select
        -- ids
        registry.contact_id,
        aliases.contact_id as surviving_contact_id,

        -- status
        case
            when contacts.contact_id is not null then 'live'
            when deleted.contact_id is not null then 'deleted_in_crm'
            when aliases.contact_id is not null then 'merged'
            else 'erased'
        end as contact_status,
        coalesce(contacts.is_opted_out, false) as is_opted_out,
        coalesce(contacts.is_suppressed, false) as is_suppressed,
        coalesce(contacts.is_email_valid, false) as has_valid_email

    from registry
    left join contacts on registry.contact_id = contacts.contact_id
    left join aliases on registry.contact_id = aliases.retired_contact_id
    left join deleted on registry.contact_id = deleted.contact_id

)

select * from final
