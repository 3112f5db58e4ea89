-- One row per staged source record: its phone as exported and the region a national
-- number is read in (phone_parse's second argument): any spelling of the record's
-- country in the country_aliases seed, else its email's country domain (.co.uk -> GB),
-- else the default_phone_region var. Read by cleaned_contact_phones and by
-- cleaned_normaliser_inputs, so both use the same arguments.

with

contacts as (

    select
        staged.contact_record_id,
        staged.phone,
        staged.country
    from {{ ref('stg_landing__contacts') }} as staged

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

final as (

    select
        contacts.contact_record_id,
        contacts.phone,
        coalesce(
            country_aliases.country_code, tld_countries.country_code, '{{ var("default_phone_region") }}'
        ) as phone_region
    from contacts
    left join emails
        on contacts.contact_record_id = emails.contact_record_id
    left join country_aliases
        on {{ lookup_key('contacts.country') }} = country_aliases.country_alias
    left join countries as tld_countries
        on emails.email_tld = tld_countries.internet_tld

)

select * from final
