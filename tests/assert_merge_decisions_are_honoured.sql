-- Every reviewer's decision in force holds: the records of a must_link pair are in one
-- contact, those of a cannot_link pair in two. Decisions that contradict each other (a
-- chain of must_link between two cannot_link records) cannot all hold: the clustering
-- keeps the must_link chain and flags the contact (has_identity_conflict, which the
-- contacts_mostly_free_of_identity_conflicts tests count); they are not failures here.
-- Fails with the decisions the clustering did not honour.

with

decisions as (

    select * from {{ ref('stg_review__merge_decisions') }}

),

identity_map as (

    select source_record_key, contact_id, has_identity_conflict from {{ ref('contact_identity_map') }}

)

select
    decisions.source_record_key_a,
    decisions.source_record_key_b,
    decisions.decision
from decisions
inner join identity_map as records_a on decisions.source_record_key_a = records_a.source_record_key
inner join identity_map as records_b on decisions.source_record_key_b = records_b.source_record_key
where
    (decisions.decision = 'must_link' and records_a.contact_id <> records_b.contact_id)
    or (
        decisions.decision = 'cannot_link'
        and records_a.contact_id = records_b.contact_id
        and not records_a.has_identity_conflict
    )
