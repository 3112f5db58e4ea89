{{
    config(
        materialized='incremental',
        unique_key=['value_type', 'value_key']
    )
}}

-- How common each matching value is across all records, for the term-frequency
-- adjustments of deduped_pair_scores (two records that share a rare surname are likelier
-- one person than two that share a common one) and the shared-value checks of the scores,
-- the clusters and the golden records. One row per value type and value:
--   email, phone      a mailbox or number (phone_key: the normalised digits, valid or not);
--                     is_shared when people with different first initials give it (a
--                     switchboard, a household's landline, a family mailbox, a team list)
--                     or it is a role address. Initials of the canonical first names, so
--                     that one person's nicknames and typos do not make their own number
--                     look shared
--   name_company      first name | last name | company; is_shared when the records hold
--                     more than one personal mailbox or number, or a numbered work
--                     mailbox (jane.doe2@: the company numbers a namesake's): several
--                     people carry that name there, and name and company alone cannot
--                     tell which of them a record is
--   given_name, last_name, house (postal code | house number), company
--                     recounted on every run (a value's share moves with every new record)
--
-- Incremental, and equal to a full rebuild: a run recounts the mailboxes and numbers the
-- records matched since the last run carry, the name-at-company groups those records or
-- those mailboxes and numbers touch, and all the other values.

with

records as (

    select * from {{ ref('deduped_match_records') }}

),

record_count as (

    select max(cleaned_at) as last_cleaned_at from records

),

{% if is_incremental() %}

    changed_records as (

        select * from records
        where cleaned_at > {{ watermark('last_cleaned_at') }}

    ),

    email_records as (

        select * from records
        where email_key in (select changed_records.email_key from changed_records)

    ),

    phone_records as (

        select * from records
        where phone_key in (select changed_records.phone_key from changed_records)

    ),

{% else %}

    email_records as (

        select * from records

    ),

    phone_records as (

        select * from records

    ),

{% endif %}

contact_points as (

    select
        'email' as value_type,
        email_key as value_key,
        count(*) as records,
        count(distinct first_initial) as distinct_first_initials,
        max(case when is_role_email then 1 else 0 end) = 1 as is_role_address,
        max(cleaned_at) as last_cleaned_at
    from email_records
    where email_key is not null
    group by email_key

    union all

    select
        'phone' as value_type,
        phone_key as value_key,
        count(*) as records,
        count(distinct first_initial) as distinct_first_initials,
        false as is_role_address,
        max(cleaned_at) as last_cleaned_at
    from phone_records
    where phone_key is not null
    group by phone_key

),

recounted_contact_points as (

    select
        value_type,
        value_key,
        records,
        is_role_address or distinct_first_initials >= 2 as is_shared,
        last_cleaned_at
    from contact_points

),

-- every mailbox and number with its shared flag: the recounted ones, and the others as
-- they were
shared_contact_points as (

    select value_type, value_key, is_shared from recounted_contact_points
    {%- if is_incremental() %}
    union all
    select
        earlier.value_type,
        earlier.value_key,
        earlier.is_shared
    from {{ this }} as earlier
    left join recounted_contact_points as recounted
        on earlier.value_type = recounted.value_type and earlier.value_key = recounted.value_key
    where earlier.value_type in ('email', 'phone') and recounted.value_key is null
    {%- endif %}

),

name_company_records as (

    select
        records.*,
        concat_ws('|', records.first_name_key, records.last_name_key, records.company_match_key) as group_key
    from records
    where
        records.first_name_key is not null
        and records.last_name_key is not null
        and records.company_match_key is not null

),

{% if is_incremental() %}

    -- groups a changed record joins, or whose mailboxes and numbers were recounted
    touched_groups as (

        select name_company_records.group_key
        from name_company_records
        left join changed_records on name_company_records.contact_record_id = changed_records.contact_record_id
        left join email_records on name_company_records.contact_record_id = email_records.contact_record_id
        left join phone_records on name_company_records.contact_record_id = phone_records.contact_record_id
        where
            changed_records.contact_record_id is not null
            or email_records.contact_record_id is not null
            or phone_records.contact_record_id is not null
        group by name_company_records.group_key

    ),

    grouped_records as (

        select name_company_records.*
        from name_company_records
        inner join touched_groups on name_company_records.group_key = touched_groups.group_key

    ),

{% else %}

    grouped_records as (

        select * from name_company_records

    ),

{% endif %}

-- how many people seem to carry one name at one company: their personal mailboxes
-- (work addresses) and numbers
name_company_groups as (

    select
        grouped_records.group_key as value_key,
        count(*) as records,
        count(distinct case
            when grouped_records.is_work_email and not coalesce(shared_emails.is_shared, false)
                then grouped_records.email_key
        end) as personal_mailboxes,
        count(distinct case
            when not coalesce(shared_phones.is_shared, false) then grouped_records.phone_key
        end) as personal_numbers,
        -- a numbered work mailbox (jane.doe2@, jdoe3@): the company's own mark that
        -- another person of the name works there
        count(distinct case
            when
                grouped_records.is_work_email
                and not coalesce(shared_emails.is_shared, false)
                and {{ matches_pattern("split_part(grouped_records.email_key, '@', 1)", '.*[0-9]') }}
                then grouped_records.email_key
        end) as numbered_mailboxes,
        max(grouped_records.cleaned_at) as last_cleaned_at
    from grouped_records
    left join shared_contact_points as shared_emails
        on shared_emails.value_type = 'email' and grouped_records.email_key = shared_emails.value_key
    left join shared_contact_points as shared_phones
        on shared_phones.value_type = 'phone' and grouped_records.phone_key = shared_phones.value_key
    group by grouped_records.group_key

),

values_counted as (

    {% for value_type, expression in [
        ('given_name', 'given_name_key'),
        ('last_name', 'last_name_key'),
        ('house', "case when postal_code is not null and street_number is not null "
                  ~ "then concat_ws('|', postal_code, street_number) end"),
        ('company', 'company_match_key'),
    ] %}
        select
            '{{ value_type }}' as value_type,
            {{ expression }} as value_key,
            count(*) as records
        from records
        where {{ expression }} is not null
        group by {{ expression }}
        {{ "union all" if not loop.last }}
    {% endfor %}

),

final as (

    select
        value_type,
        value_key,
        records,
        is_shared,
        last_cleaned_at
    from recounted_contact_points

    union all

    select
        'name_company' as value_type,
        value_key,
        records,
        personal_mailboxes > 1 or personal_numbers > 1 or numbered_mailboxes > 0 as is_shared,
        last_cleaned_at
    from name_company_groups

    union all

    -- the watermark rides on the other values, recounted on every run
    select
        values_counted.value_type,
        values_counted.value_key,
        values_counted.records,
        false as is_shared,
        record_count.last_cleaned_at
    from values_counted
    cross join record_count

)

select
    *,
    '{{ deduped_rules_checksum() }}' as rules_checksum
from final
