-- One row per staged source record with its phone number standardised: E.164 by
-- libphonenumber (the phone_parse function); a national number is read in the record's
-- country, else its email's country domain (.co.uk -> GB), else the default_phone_region
-- var. Also the number's own country, which cleaned_contact_addresses falls back to.

with

contacts as (

    select
        staged.contact_record_id,
        staged.phone,
        staged.country
    from {{ ref('stg_landing__contacts') }} as staged
    {{ not_cleaned_yet('staged') }}

),

emails as (

    select contact_record_id, email_tld from {{ ref('cleaned_contact_emails') }}

),

countries as (

    select country_code, internet_tld from {{ ref('countries') }}

),

country_aliases as (

    select country_alias, country_code from {{ ref('country_aliases') }}

),

-- the country a national number is read in: any spelling in the country_aliases seed,
-- else the email's country domain
with_country as (

    select
        contacts.*,
        country_aliases.country_code as country_field_code,
        tld_countries.country_code as email_country_code
    from contacts
    left join emails
        on contacts.contact_record_id = emails.contact_record_id
    left join country_aliases
        on {{ lookup_key('contacts.country') }} = country_aliases.country_alias
    left join countries as tld_countries
        on emails.email_tld = tld_countries.internet_tld

),

with_phone as (

    select
        with_country.*,
        phone_parse(
            with_country.phone,
            coalesce(with_country.country_field_code, with_country.email_country_code, '{{ var("default_phone_region") }}')
        ) as parsed_phone
    from with_country

),

final as (

    select
        with_phone.contact_record_id,
        {{ cleaned_lineage_columns() }},
        with_phone.phone as phone_original,
        {{ struct_field('with_phone.parsed_phone', 'e164') }} as phone_e164,
        coalesce({{ struct_field('with_phone.parsed_phone', 'is_valid') }}, false) as is_phone_valid,
        {{ struct_field('with_phone.parsed_phone', 'number_type') }} as phone_number_type,
        -- the number's own country, when the countries seed knows it
        phone_countries.country_code as phone_country_code
    from with_phone
    left join countries as phone_countries
        on {{ struct_field('with_phone.parsed_phone', 'region_code') }} = phone_countries.country_code

)

select * from final
