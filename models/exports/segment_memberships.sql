-- Who is in which segment now: one row per (segment, contact), with when the contact
-- entered. Every segment model is here by itself (segment_catalog); a removed segment's
-- members are not. A contact that is no longer live has left every segment
-- (dim_contacts' post-hook), so each row points to a live contact.
-- depends_on: {{ ref('dim_contacts') }}

with

spells as (

    select * from {{ ref('segment_membership_history') }}

),

catalog as (

    select * from {{ ref('segment_catalog') }}

)

select
    spells.segment_name,
    spells.contact_id,
    spells.entered_at
from spells
inner join catalog on spells.segment_name = catalog.segment_name
where spells.is_current
