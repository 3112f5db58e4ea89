with

contacts as (

    select staged.contact_record_id, staged.email from {{ ref('stg_landing__contacts') }} as staged
    {{ not_cleaned_yet('staged') }}

),

free_mail_domains as (

    select email_domain from {{ ref('free_mail_domains') }}

),

disposable_email_domains as (

    select email_domain from {{ ref('disposable_email_domains') }}

),

role_email_local_parts as (

    select local_part from {{ ref('role_email_local_parts') }}

),

email_provider_rules as (

    select email_domain, canonical_domain, ignores_dots, plus_addressing
    from {{ ref('email_provider_rules') }}

),

-- the address we send to is only trimmed and lower-cased
addresses as (

    select
        contact_record_id,
        email as email_original,
        nullif(lower(trim(email)), '') as email_text
    from contacts

),

address_parts as (

    select
        addresses.*,
        coalesce({{ matches_pattern('addresses.email_text', var('email_pattern')) }}, false) as is_email_valid,
        split_part(addresses.email_text, '@', 1) as email_local_part,
        split_part(addresses.email_text, '@', 2) as email_domain_text
    from addresses

),

flagged as (

    select
        address_parts.*,
        address_parts.is_email_valid and role_email_local_parts.local_part is not null as is_role_email,
        address_parts.is_email_valid and free_mail_domains.email_domain is not null as is_free_mail,
        address_parts.is_email_valid and disposable_email_domains.email_domain is not null as is_disposable_email,
        coalesce(email_provider_rules.ignores_dots, false) as provider_ignores_dots,
        coalesce(email_provider_rules.plus_addressing, false) as provider_plus_addressing,
        coalesce(email_provider_rules.canonical_domain, address_parts.email_domain_text) as match_domain
    from address_parts
    left join role_email_local_parts
        on address_parts.email_local_part = role_email_local_parts.local_part
    left join free_mail_domains
        on address_parts.email_domain_text = free_mail_domains.email_domain
    left join disposable_email_domains
        on address_parts.email_domain_text = disposable_email_domains.email_domain
    left join email_provider_rules
        on address_parts.email_domain_text = email_provider_rules.email_domain

),

-- the match key only: provider rules (Gmail ignores dots, plus tags) never touch the address we send to
untagged as (

    select
        flagged.*,
        case
            when flagged.provider_plus_addressing then split_part(flagged.email_local_part, '+', 1)
            else flagged.email_local_part
        end as match_local_part
    from flagged

),

final as (

    select
        contact_record_id,
        {{ cleaned_lineage_columns() }},
        email_original,
        case when is_email_valid then email_text end as email_address,
        is_email_valid,
        case when is_email_valid then email_domain_text end as email_domain,
        case when is_email_valid then regexp_extract(email_domain_text, '[.]([a-z]+)$', 1) end as email_tld,
        coalesce(is_role_email, false) as is_role_email,
        coalesce(is_free_mail, false) as is_free_mail,
        coalesce(is_disposable_email, false) as is_disposable_email,
        case
            when is_email_valid and provider_ignores_dots
                then replace(match_local_part, '.', '') || '@' || match_domain
            when is_email_valid then match_local_part || '@' || match_domain
        end as email_match_key
    from untagged

)

select * from final
