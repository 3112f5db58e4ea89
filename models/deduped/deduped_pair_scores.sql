-- The match decision for every candidate pair, readable field by field: each comparison's
-- level, the weight the match_weights seed gives it, and their sum. A pair is a match
-- when the sum reaches the dedupe_match_threshold var and some evidence is about the
-- person (same mailbox, same personal number, or first and last name alike): company
-- evidence alone (company, office, switchboard, domain) never merges two people, and it
-- counts once however much of it there is.
--
-- Frequency adjustments use the whole data set, so they are applied here and not stored
-- with the comparisons: a mailbox or number that people with different names give is
-- shared (company evidence, not a person's), a name that many records carry weighs less.

with

comparisons as (

    select comparisons.*
    from {{ ref('deduped_pair_comparisons') }} as comparisons
    -- only pairs that are still candidates (records change, blocks grow over their cap)
    inner join {{ ref('deduped_candidate_pairs') }} as candidates
        on
            comparisons.record_id_a = candidates.record_id_a
            and comparisons.record_id_b = candidates.record_id_b
            and candidates.is_candidate

),

weights as (

    select comparison, comparison_level, match_weight from {{ ref('match_weights') }}

),

frequencies as (

    select value_type, value_key from {{ ref('deduped_value_frequencies') }}
    where is_shared or is_frequent

),

levels as (

    select
        comparisons.record_id_a,
        comparisons.record_id_b,
        comparisons.blocking_rules,
        case
            when comparisons.email_level = 'same' and shared_emails.value_key is not null then 'shared_mailbox'
            -- info@ beside a personal mailbox at the same domain is no sign of two people
            when
                comparisons.email_level = 'same_domain_other_mailbox'
                and (shared_emails.value_key is not null or other_shared_emails.value_key is not null)
                then 'different'
            else comparisons.email_level
        end as email_level,
        case
            when comparisons.phone_level = 'same' and shared_phones.value_key is not null then 'shared_number'
            -- a switchboard on either side says nothing about the person
            when
                comparisons.phone_level = 'different'
                and (shared_phones.value_key is not null or other_shared_phones.value_key is not null)
                then 'missing'
            else comparisons.phone_level
        end as phone_level,
        case
            when comparisons.first_name_level = 'same' and frequent_first_names.value_key is not null
                then 'same_frequent'
            else comparisons.first_name_level
        end as first_name_level,
        case
            when comparisons.last_name_level = 'same' and frequent_last_names.value_key is not null
                then 'same_frequent'
            else comparisons.last_name_level
        end as last_name_level,
        case
            -- several people carry this name at this company: the company cannot tell
            -- which of them a record is, unless a mailbox or number does
            when
                (ambiguous_names_a.value_key is not null or ambiguous_names_b.value_key is not null)
                and comparisons.email_level <> 'same'
                and comparisons.phone_level <> 'same'
                then 'ambiguous'
            when
                comparisons.is_same_company_key
                or comparisons.is_same_company_domain
                or comparisons.office_level = 'same'
                or (comparisons.phone_level = 'same' and shared_phones.value_key is not null)
                or (comparisons.email_level = 'same' and shared_emails.value_key is not null)
                then 'shared'
            else 'none'
        end as company_level,
        case
            when comparisons.office_level = 'different' then 'different'
            else 'same_or_missing'
        end as office_level,
        comparisons.role_level,
        comparisons.birth_date_level,
        comparisons.country_level,
        comparisons.first_name_similarity,
        comparisons.last_name_similarity
    from comparisons
    left join frequencies as shared_phones
        on shared_phones.value_type = 'phone' and comparisons.phone_a = shared_phones.value_key
    left join frequencies as other_shared_phones
        on other_shared_phones.value_type = 'phone' and comparisons.phone_b = other_shared_phones.value_key
    left join frequencies as shared_emails
        on shared_emails.value_type = 'email' and comparisons.email_a = shared_emails.value_key
    left join frequencies as other_shared_emails
        on other_shared_emails.value_type = 'email' and comparisons.email_b = other_shared_emails.value_key
    left join frequencies as ambiguous_names_a
        on
            ambiguous_names_a.value_type = 'name_company'
            and concat_ws('|', comparisons.first_name_a, comparisons.last_name_a, comparisons.company_key_a)
            = ambiguous_names_a.value_key
    left join frequencies as ambiguous_names_b
        on
            ambiguous_names_b.value_type = 'name_company'
            and concat_ws('|', comparisons.first_name_b, comparisons.last_name_b, comparisons.company_key_b)
            = ambiguous_names_b.value_key
    left join frequencies as frequent_first_names
        on
            frequent_first_names.value_type = 'first_name'
            and comparisons.first_name_level = 'same'
            and comparisons.first_name_a = frequent_first_names.value_key
    left join frequencies as frequent_last_names
        on
            frequent_last_names.value_type = 'last_name'
            and comparisons.last_name_level = 'same'
            and comparisons.last_name_a = frequent_last_names.value_key

),

weighted as (

    select
        levels.*,
        email_weights.match_weight as email_weight,
        phone_weights.match_weight as phone_weight,
        first_name_weights.match_weight as first_name_weight,
        last_name_weights.match_weight as last_name_weight,
        company_weights.match_weight as company_weight,
        office_weights.match_weight as office_weight,
        role_weights.match_weight as role_weight,
        birth_date_weights.match_weight as birth_date_weight,
        country_weights.match_weight as country_weight
    from levels
    left join weights as email_weights
        on email_weights.comparison = 'email' and levels.email_level = email_weights.comparison_level
    left join weights as phone_weights
        on phone_weights.comparison = 'phone' and levels.phone_level = phone_weights.comparison_level
    left join weights as first_name_weights
        on
            first_name_weights.comparison = 'first_name'
            and levels.first_name_level = first_name_weights.comparison_level
    left join weights as last_name_weights
        on last_name_weights.comparison = 'last_name' and levels.last_name_level = last_name_weights.comparison_level
    left join weights as company_weights
        on company_weights.comparison = 'company' and levels.company_level = company_weights.comparison_level
    left join weights as office_weights
        on office_weights.comparison = 'office' and levels.office_level = office_weights.comparison_level
    left join weights as role_weights
        on role_weights.comparison = 'role' and levels.role_level = role_weights.comparison_level
    left join weights as birth_date_weights
        on
            birth_date_weights.comparison = 'birth_date'
            and levels.birth_date_level = birth_date_weights.comparison_level
    left join weights as country_weights
        on country_weights.comparison = 'country' and levels.country_level = country_weights.comparison_level

),

final as (

    select
        *,
        email_weight + phone_weight + first_name_weight + last_name_weight
        + company_weight + office_weight + role_weight + birth_date_weight + country_weight as match_score,
        (
            email_level = 'same'
            or phone_level = 'same'
            or (
                first_name_level in ('same', 'same_frequent', 'similar', 'initial')
                and last_name_level in ('same', 'same_frequent', 'similar')
            )
        ) as has_person_evidence,
        -- only person-level identifiers (not names and company) make a link strong; weak
        -- links are dropped inside clusters that turn out to hold a conflict
        (email_level = 'same' or phone_level = 'same') as is_strong_link
    from weighted

)

select
    *,
    match_score >= {{ var('dedupe_match_threshold') }} and has_person_evidence as is_match
from final
