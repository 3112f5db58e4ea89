{{ config(materialized='table') }}

with

contacts as (

    select
        contact_record_id,
        source_system,
        source_record_id,
        email,
        phone,
        country
    from {{ ref('stg_landing__contacts') }}

),

countries as (

    select country_code, internet_tld from {{ ref('countries') }}

),

country_aliases as (

    select country_alias, country_code from {{ ref('country_aliases') }}

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

-- countries: any spelling in the country_aliases seed -> ISO 3166-1 alpha-2
with_country as (

    select
        contacts.*,
        country_aliases.country_code
    from contacts
    left join country_aliases
        on {{ lookup_key('contacts.country') }} = country_aliases.country_alias

),

-- emails: the address we send to is only trimmed and lower-cased
with_email as (

    select
        with_country.*,
        nullif(lower(trim(with_country.email)), '') as email_address
    from with_country

),

email_parts as (

    select
        with_email.*,
        {{ matches_pattern('with_email.email_address', var('email_pattern')) }} as is_email_valid,
        split_part(with_email.email_address, '@', 1) as email_local_part,
        split_part(with_email.email_address, '@', 2) as email_domain
    from with_email

),

email_flags as (

    select
        email_parts.*,
        coalesce(email_parts.is_email_valid and role_email_local_parts.local_part is not null, false)
            as is_role_email,
        coalesce(email_parts.is_email_valid and free_mail_domains.email_domain is not null, false)
            as is_free_mail,
        coalesce(email_parts.is_email_valid and disposable_email_domains.email_domain is not null, false)
            as is_disposable_email,
        coalesce(email_provider_rules.ignores_dots, false) as provider_ignores_dots,
        coalesce(email_provider_rules.plus_addressing, false) as provider_plus_addressing,
        coalesce(email_provider_rules.canonical_domain, email_parts.email_domain) as match_domain
    from email_parts
    left join role_email_local_parts
        on email_parts.email_local_part = role_email_local_parts.local_part
    left join free_mail_domains
        on email_parts.email_domain = free_mail_domains.email_domain
    left join disposable_email_domains
        on email_parts.email_domain = disposable_email_domains.email_domain
    left join email_provider_rules
        on email_parts.email_domain = email_provider_rules.email_domain

),

-- the match key only: provider rules (Gmail ignores dots, plus tags) never touch the address we send to
email_untagged as (

    select
        email_flags.*,
        case
            when email_flags.provider_plus_addressing
                then split_part(email_flags.email_local_part, '+', 1)
            else email_flags.email_local_part
        end as match_local_part_tagless
    from email_flags

),

email_match_keys as (

    select
        email_untagged.*,
        case
            when email_untagged.is_email_valid and email_untagged.provider_ignores_dots
                then replace(email_untagged.match_local_part_tagless, '.', '') || '@' || email_untagged.match_domain
            when email_untagged.is_email_valid
                then email_untagged.match_local_part_tagless || '@' || email_untagged.match_domain
        end as email_match_key
    from email_untagged

),

-- phones: E.164 by libphonenumber. National numbers are read in the contact's country,
-- else the country of the email's top-level domain (.co.uk -> GB), else the default region
email_tlds as (

    select
        email_match_keys.*,
        case
            when email_match_keys.is_email_valid
                then regexp_extract(email_match_keys.email_domain, '[.]([a-z]+)$', 1)
        end as email_tld
    from email_match_keys

),

phone_region as (

    select
        email_tlds.*,
        coalesce(
            email_tlds.country_code,
            tld_countries.country_code,
            '{{ var("default_phone_region") }}'
        ) as phone_region
    from email_tlds
    left join countries as tld_countries
        on email_tlds.email_tld = tld_countries.internet_tld

),

with_phone as (

    select
        phone_region.*,
        {{ phone_parse('phone_region.phone', 'phone_region.phone_region') }} as parsed_phone
    from phone_region

),

final as (

    select
        -- ids
        contact_record_id,
        source_system,
        source_record_id,

        -- email
        email as email_original,
        case when is_email_valid then email_address end as email_address,
        coalesce(is_email_valid, false) as is_email_valid,
        case when is_email_valid then email_domain end as email_domain,
        is_role_email,
        is_free_mail,
        is_disposable_email,
        email_match_key,

        -- phone
        phone as phone_original,
        parsed_phone.e164 as phone_e164,
        coalesce(parsed_phone.is_valid, false) as is_phone_valid,
        parsed_phone.number_type as phone_number_type,
        phone_region,

        -- country
        country as country_original,
        country_code

    from with_phone

)

select * from final
