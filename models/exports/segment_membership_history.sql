-- Every spell of a contact in a segment: entered_at when a run first found the contact
-- in the segment, left_at (null while it lasts) when a run no longer did, and why. Each
-- entry event paired with the exit that follows it (see the segment_membership_events
-- macro: the events are only appended, so this grows with the nightly changes only).

with

events as (

    select * from {{ ref('stg_segments__membership_events') }}

),

followed as (

    select
        segment_name,
        contact_id,
        event,
        event_at,
        invocation_id,
        lead(event_at) over (partition by segment_name, contact_id order by event_at) as next_event_at,
        lead(invocation_id) over (partition by segment_name, contact_id order by event_at) as next_invocation_id,
        lead(reason) over (partition by segment_name, contact_id order by event_at) as next_reason
    from events

)

select
    segment_name,
    contact_id,
    event_at as entered_at,
    invocation_id as entered_invocation_id,
    next_event_at as left_at,
    next_invocation_id as left_invocation_id,
    next_reason as left_reason,
    next_event_at is null as is_current
from followed
where event = 'entered'
