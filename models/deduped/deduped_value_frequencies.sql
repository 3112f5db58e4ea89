-- How common each matching value is across all records, for the frequency adjustments
-- of deduped_pair_scores and the conflict check of deduped_record_clusters. One row per
-- value type (email, phone, first_name, last_name) and value:
--   is_shared    for a mailbox or number: people whose first names and last names start
--                with different letters give it (a switchboard, a team list), or it is a
--                role address: company evidence. Initials, not names, so that one
--                person's typos and nicknames do not make their own number look shared.
--                For a name at a company (name_company): the records hold more than one
--                personal mailbox or number, so several people share that name there and
--                name and company alone cannot tell which of them a record is
--   is_frequent  a name that at least dedupe_frequent_name_share of all records carry

with

records as (

    select * from {{ ref('deduped_match_records') }}

),

record_count as (

    select count(*) as records from records

),

contact_points as (

    select
        'email' as value_type,
        email_key as value_key,
        count(*) as records,
        count(distinct left(first_name_key, 1)) as distinct_first_initials,
        count(distinct left(last_name_key, 1)) as distinct_last_initials,
        max(case when is_role_email then 1 else 0 end) = 1 as is_role_address
    from records
    where email_key is not null
    group by email_key

    union all

    select
        'phone' as value_type,
        phone_e164 as value_key,
        count(*) as records,
        count(distinct left(first_name_key, 1)) as distinct_first_initials,
        count(distinct left(last_name_key, 1)) as distinct_last_initials,
        false as is_role_address
    from records
    where phone_e164 is not null
    group by phone_e164

),

shared_contact_points as (

    select
        value_type,
        value_key,
        records,
        is_role_address or (distinct_first_initials >= 2 and distinct_last_initials >= 2) as is_shared
    from contact_points

),

-- how many people seem to carry one name at one company: their personal mailboxes
-- (work addresses) and numbers
name_company_groups as (

    select
        concat_ws('|', records.first_name_key, records.last_name_key, records.company_match_key) as value_key,
        count(*) as records,
        count(distinct case when records.is_work_email and not coalesce(shared_emails.is_shared, false) then records.email_key end)
            as personal_mailboxes,
        count(distinct case when not coalesce(shared_phones.is_shared, false) then records.phone_e164 end)
            as personal_numbers
    from records
    left join shared_contact_points as shared_emails
        on shared_emails.value_type = 'email' and records.email_key = shared_emails.value_key
    left join shared_contact_points as shared_phones
        on shared_phones.value_type = 'phone' and records.phone_e164 = shared_phones.value_key
    where
        records.first_name_key is not null
        and records.last_name_key is not null
        and records.company_match_key is not null
    group by records.first_name_key, records.last_name_key, records.company_match_key

),

names as (

    select
        'first_name' as value_type,
        first_name_key as value_key,
        count(*) as records
    from records
    where first_name_key is not null
    group by first_name_key

    union all

    select
        'last_name' as value_type,
        last_name_key as value_key,
        count(*) as records
    from records
    where last_name_key is not null
    group by last_name_key

),

final as (

    select
        value_type,
        value_key,
        records,
        is_shared,
        false as is_frequent
    from shared_contact_points

    union all

    select
        'name_company' as value_type,
        value_key,
        records,
        personal_mailboxes > 1 or personal_numbers > 1 as is_shared,
        false as is_frequent
    from name_company_groups

    union all

    select
        names.value_type,
        names.value_key,
        names.records,
        false as is_shared,
        names.records >= {{ var('dedupe_frequent_name_share') }} * record_count.records as is_frequent
    from names
    cross join record_count

)

select * from final
