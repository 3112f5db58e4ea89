-- One row per staged source record with its country and state standardised: the country
-- to ISO 3166-1 alpha-2 from any spelling in the country_aliases seed; a record that names
-- no country takes its phone number's own country, else its email's country domain, else
-- a state spelling that means one state in one country. The state or province to its code
-- (state_aliases), in that country.

with

contacts as (

    select
        staged.contact_record_id,
        staged.country,
        staged.state
    from {{ ref('stg_landing__contacts') }} as staged
    {{ not_cleaned_yet('staged') }}

),

emails as (

    select contact_record_id, email_tld from {{ ref('cleaned_contact_emails') }}

),

phones as (

    select contact_record_id, phone_country_code from {{ ref('cleaned_contact_phones') }}

),

countries as (

    select country_code, internet_tld from {{ ref('countries') }}

),

country_aliases as (

    select country_alias, country_code from {{ ref('country_aliases') }}

),

state_aliases as (

    select country_code, state_key, state_code from {{ ref('state_aliases') }}

),

unambiguous_state_aliases as (

    select
        state_key,
        max(country_code) as country_code
    from state_aliases
    group by state_key
    having count(*) = 1

),

with_country as (

    select
        contacts.*,
        coalesce(
            country_aliases.country_code,
            phones.phone_country_code,
            tld_countries.country_code,
            unambiguous_state_aliases.country_code
        ) as country_code,
        case
            when country_aliases.country_code is not null then 'country_field'
            when phones.phone_country_code is not null then 'phone'
            when tld_countries.country_code is not null then 'email_domain'
            when unambiguous_state_aliases.country_code is not null then 'state'
        end as country_code_source
    from contacts
    left join emails
        on contacts.contact_record_id = emails.contact_record_id
    left join phones
        on contacts.contact_record_id = phones.contact_record_id
    left join country_aliases
        on {{ lookup_key('contacts.country') }} = country_aliases.country_alias
    left join countries as tld_countries
        on emails.email_tld = tld_countries.internet_tld
    left join unambiguous_state_aliases
        on {{ lookup_key('contacts.state') }} = unambiguous_state_aliases.state_key

),

final as (

    select
        with_country.contact_record_id,
        {{ cleaned_lineage_columns() }},
        with_country.country as country_original,
        with_country.country_code,
        with_country.country_code_source,
        with_country.state as state_original,
        state_aliases.state_code
    from with_country
    left join state_aliases
        on
            with_country.country_code = state_aliases.country_code
            and {{ lookup_key('with_country.state') }} = state_aliases.state_key

)

select * from final
