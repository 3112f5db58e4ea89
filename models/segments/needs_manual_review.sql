-- Contacts a person should look at before they are used: two personal mailboxes at one
-- company domain (maybe two people merged), no valid way to reach them, or too little
-- known to target them (completeness below the var dim_contacts_review_completeness).

select contact_id
from {{ ref('dim_contacts') }}
where
    has_identity_conflict
    or (not coalesce(is_email_valid, false) and not coalesce(is_phone_valid, false))
    or completeness_score < {{ var('dim_contacts_review_completeness') }}
