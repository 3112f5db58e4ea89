-- Every spell of a contact in a segment: entered_at when a run first found the contact
-- in the segment, left_at (null while it lasts) when a run no longer did, and why.
-- Written by each segment's post-hooks and dim_contacts' (see the
-- segment_membership_log macro), so it grows with the nightly changes only.

select
    segment_name,
    contact_id,
    entered_at,
    entered_invocation_id,
    left_at,
    left_invocation_id,
    left_reason,
    left_at is null as is_current
from {{ ref('stg_segments__membership_log') }}
