-- Contacts their CRMs deleted: every source record of the contact is a record whose
-- latest version, read by API, says it was deleted (HubSpot's archived contacts,
-- Salesforce's IsDeleted). golden_contacts leaves them out, so they leave the segments
-- and the exports' removes; a contact one of whose records is still live in any CRM (or
-- came in a file) stays. A record restored in its CRM comes back as a newer, live version.
-- The latest version: the latest update time in the CRM, then the latest load.

with

staged as (

    select
        contact_record_id,
        {{ source_record_key('source_system', 'source_record_id', 'contact_record_id') }} as source_record_key,
        source_updated_at,
        loaded_at,
        is_deleted_in_source
    from {{ ref('stg_landing__contacts') }}

),

-- only the records that were ever deleted are ranked (few, whatever the history holds)
ever_deleted as (

    select distinct source_record_key from staged
    where is_deleted_in_source

),

latest_versions as (

    select
        staged.source_record_key,
        staged.is_deleted_in_source,
        staged.loaded_at,
        row_number() over (
            partition by staged.source_record_key
            order by
                staged.source_updated_at desc nulls last, staged.loaded_at desc,
                case when staged.is_deleted_in_source then 0 else 1 end, staged.contact_record_id desc
        ) as recency
    from staged
    inner join ever_deleted on staged.source_record_key = ever_deleted.source_record_key

),

deleted_records as (

    select source_record_key, loaded_at as deleted_loaded_at
    from latest_versions
    where recency = 1 and is_deleted_in_source

),

identity_map as (

    select contact_id, source_record_key from {{ ref('contact_identity_map') }}

),

-- the contacts holding a deleted record: only their records are grouped below, so the
-- grouping grows with the deletions (the identity map is only probed), not with every contact
candidates as (

    select distinct identity_map.contact_id
    from identity_map
    inner join deleted_records on identity_map.source_record_key = deleted_records.source_record_key

),

members as (

    select
        identity_map.contact_id,
        deleted_records.source_record_key as deleted_record_key,
        deleted_records.deleted_loaded_at
    from identity_map
    inner join candidates on identity_map.contact_id = candidates.contact_id
    left join deleted_records on identity_map.source_record_key = deleted_records.source_record_key

),

final as (

    select
        contact_id,
        count(*) as deleted_records,
        max(deleted_loaded_at) as deleted_loaded_at
    from members
    group by contact_id
    having count(deleted_record_key) = count(*)

)

select * from final
