-- The segment membership events (written by the segments' post-hook, dim_contacts' and
-- on-run-end), one row per entry into or exit from a segment.

with

source as (

    select * from {{ source('segments', 'segment_membership_events') }}

),

renamed as (

    select
        -- ids
        segment_name,
        contact_id,
        invocation_id,

        -- the event
        event,
        reason,

        -- timestamps
        event_at

    from source

)

select * from renamed
