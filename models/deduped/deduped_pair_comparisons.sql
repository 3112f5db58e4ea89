{{
    config(
        materialized='incremental',
        unique_key=['record_id_a', 'record_id_b']
    )
}}

-- The field-by-field comparison of each candidate pair: the expensive part of matching
-- (string similarities), so it is incremental. A run compares only pairs it has not
-- compared yet, pairs where a record was (re)cleaned since, and every pair after the
-- deduped rules changed (deduped_rules_checksum); everything that depends
-- on the whole data set (how common a name is, whether a number is a switchboard) is
-- applied later, in deduped_pair_scores, so a nightly run equals a full rebuild.

with

candidates as (

    select * from {{ ref('deduped_candidate_pairs') }}
    -- pairs with a record (re)matched since the last comparisons under the current
    -- rules (every pair on a full build, or when the rules changed)
    where
        is_candidate
        and records_cleaned_at > {{
            watermark('records_cleaned_at')
            if is_incremental() else "cast('1900-01-01' as timestamp)"
        }}

),

records as (

    select * from {{ ref('deduped_match_records') }}

),

pairs as (

    select
        candidates.record_id_a,
        candidates.record_id_b,
        candidates.blocking_rules,
        record_a.first_name_key as first_name_a,
        record_b.first_name_key as first_name_b,
        record_a.last_name_key as last_name_a,
        record_b.last_name_key as last_name_b,
        record_a.email_key as email_a,
        record_b.email_key as email_b,
        record_a.email_domain as email_domain_a,
        record_b.email_domain as email_domain_b,
        record_a.is_work_email and record_b.is_work_email as both_work_emails,
        record_a.phone_e164 as phone_a,
        record_b.phone_e164 as phone_b,
        record_a.company_match_key as company_key_a,
        record_b.company_match_key as company_key_b,
        record_a.company_match_key = record_b.company_match_key as is_same_company_key,
        record_a.company_domain = record_b.company_domain as is_same_company_domain,
        record_a.postal_code as postal_code_a,
        record_b.postal_code as postal_code_b,
        record_a.street_number as street_number_a,
        record_b.street_number as street_number_b,
        record_a.seniority = record_b.seniority and record_a.department = record_b.department as is_same_role,
        record_a.seniority is not null and record_a.department is not null
        and record_b.seniority is not null and record_b.department is not null as both_roles_known,
        record_a.date_of_birth as birth_date_a,
        record_b.date_of_birth as birth_date_b,
        record_a.country_code as country_a,
        record_b.country_code as country_b,
        candidates.records_cleaned_at
    from candidates
    inner join records as record_a on candidates.record_id_a = record_a.contact_record_id
    inner join records as record_b on candidates.record_id_b = record_b.contact_record_id

),

similarities as (

    select
        pairs.*,
        {{ name_similarity('first_name_a', 'first_name_b') }} as first_name_similarity,
        {{ name_similarity('last_name_a', 'last_name_b') }} as last_name_similarity
    from pairs

),

final as (

    select
        record_id_a,
        record_id_b,
        blocking_rules,

        -- comparison levels before frequency adjustments (see deduped_pair_scores)
        case
            when email_a is null or email_b is null then 'missing'
            when email_a = email_b then 'same'
            when both_work_emails and email_domain_a = email_domain_b then 'same_domain_other_mailbox'
            else 'different'
        end as email_level,
        case
            when phone_a is null or phone_b is null then 'missing'
            when phone_a = phone_b then 'same'
            else 'different'
        end as phone_level,
        case
            when first_name_a is null or first_name_b is null then 'missing'
            when first_name_a = first_name_b then 'same'
            when
                (length(first_name_a) = 1 and first_name_a = left(first_name_b, 1))
                or (length(first_name_b) = 1 and first_name_b = left(first_name_a, 1))
                then 'initial'
            when first_name_similarity >= {{ var('dedupe_name_similarity') }} then 'similar'
            else 'different'
        end as first_name_level,
        case
            when last_name_a is null or last_name_b is null then 'missing'
            when last_name_a = last_name_b then 'same'
            when last_name_similarity >= {{ var('dedupe_name_similarity') }} then 'similar'
            else 'different'
        end as last_name_level,
        case
            when coalesce(postal_code_a, street_number_a, postal_code_b, street_number_b) is null then 'missing'
            when postal_code_a = postal_code_b and street_number_a = street_number_b then 'same'
            when
                postal_code_a is not null and street_number_a is not null
                and postal_code_b is not null and street_number_b is not null
                then 'different'
            else 'missing'
        end as office_level,
        case
            when not both_roles_known then 'missing'
            when is_same_role then 'same'
            else 'different'
        end as role_level,
        case
            when birth_date_a is null or birth_date_b is null then 'missing'
            when birth_date_a = birth_date_b then 'same'
            -- a typed date with one part wrong, or day and month swapped
            when
                (
                    year(birth_date_a) = year(birth_date_b)
                    and month(birth_date_a) = day(birth_date_b)
                    and day(birth_date_a) = month(birth_date_b)
                )
                or (
                    case when year(birth_date_a) = year(birth_date_b) then 1 else 0 end
                    + case when month(birth_date_a) = month(birth_date_b) then 1 else 0 end
                    + case when day(birth_date_a) = day(birth_date_b) then 1 else 0 end
                ) = 2
                then 'similar'
            else 'different'
        end as birth_date_level,
        case
            when country_a <> country_b then 'different'
            else 'same_or_missing'
        end as country_level,
        coalesce(is_same_company_key, false) as is_same_company_key,
        coalesce(is_same_company_domain, false) as is_same_company_domain,

        -- what was compared, for reading a decision
        first_name_similarity,
        last_name_similarity,
        email_a,
        email_b,
        phone_a,
        phone_b,
        first_name_a,
        first_name_b,
        last_name_a,
        last_name_b,
        company_key_a,
        company_key_b,

        -- lineage
        records_cleaned_at,
        '{{ deduped_rules_checksum() }}' as rules_checksum,
        current_timestamp as compared_at

    from similarities

)

select * from final
