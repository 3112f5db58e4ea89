-- Public model: contact ids that are no longer live, and the live id to use instead. An
-- id retires when its contact merges into an older one (the older id survives); follow
-- retired_contact_id -> contact_id to find where a contact went.

with

retired as (

    select * from {{ ref('contact_id_registry') }}
    where not is_live

),

identity_map as (

    select contact_record_id, contact_id from {{ ref('contact_identity_map') }}

),

final as (

    select
        retired.contact_id as retired_contact_id,
        identity_map.contact_id,
        retired.founding_record_id,
        retired.first_issued_at,
        retired.status_changed_at as retired_at
    from retired
    -- the record a retired id was named after now belongs to the surviving contact
    left join identity_map on retired.founding_record_id = identity_map.contact_record_id

)

select * from final
