{{
    config(
        materialized='incremental',
        unique_key='contact_id',
        full_refresh=false
    )
}}

-- Every contact id ever handed out, with the record it is named after and whether it is
-- live now. Incremental and never rebuilt (full_refresh: false): it is the memory that
-- contact_id_aliases needs, since a retired id exists nowhere else. A run writes only
-- ids that are new or changed state (retired by a merge, live again after a split).

with

live_ids as (

    select contact_id, founding_record_id
    from {{ ref('contact_identity_map') }}
    where is_founding_record

),

-- the registry as it was before this run (empty on the first run)
registered as (

    {% if is_incremental() %}
        select contact_id, founding_record_id, first_issued_at, is_live
        from {{ this }}
    {% else %}
        select
            contact_id,
            founding_record_id,
            current_timestamp as first_issued_at,
            true as is_live
        from live_ids
        where false
    {% endif %}

),

final as (

    -- new ids, and retired ids that are live again
    select
        live_ids.contact_id,
        live_ids.founding_record_id,
        coalesce(registered.first_issued_at, current_timestamp) as first_issued_at,
        true as is_live,
        current_timestamp as status_changed_at
    from live_ids
    left join registered on live_ids.contact_id = registered.contact_id
    where registered.contact_id is null or not registered.is_live

    union all

    -- ids that were live and are not any more: merged into an older contact
    select
        registered.contact_id,
        registered.founding_record_id,
        registered.first_issued_at,
        false as is_live,
        current_timestamp as status_changed_at
    from registered
    left join live_ids on registered.contact_id = live_ids.contact_id
    where registered.is_live and live_ids.contact_id is null

)

select * from final
