-- The segment membership log (written by the segments' post-hooks), one row per spell.

with

source as (

    select * from {{ source('segments', 'segment_membership_log') }}

),

renamed as (

    select
        -- ids
        segment_name,
        contact_id,
        entered_invocation_id,
        left_invocation_id,

        -- the spell
        left_reason,

        -- timestamps
        entered_at,
        left_at
    from source

)

select * from renamed
