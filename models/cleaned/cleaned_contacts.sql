-- One row per staged source record with every standardised value beside its original.
-- The rules live in the cleaned_contact_* models, their seeds and macros; this model
-- only puts them together (and is the table later layers and tests read). Incremental:
-- a run rewrites the records that any cleaned_contact_* model (re)cleaned since the last one.

with

contacts as (

    select contact_record_id, source_system, source_record_id
    from {{ ref('stg_landing__contacts') }}

),

names as (

    select * from {{ ref('cleaned_contact_names') }}

),

emails as (

    select * from {{ ref('cleaned_contact_emails') }}

),

phones as (

    select * from {{ ref('cleaned_contact_phones') }}

),

countries as (

    select * from {{ ref('cleaned_contact_countries') }}

),

addresses as (

    select * from {{ ref('cleaned_contact_addresses') }}

),

companies as (

    select * from {{ ref('cleaned_contact_companies') }}

),

titles as (

    select * from {{ ref('cleaned_contact_titles') }}

),

final as (

    select
        -- ids
        contacts.contact_record_id,
        contacts.source_system,
        contacts.source_record_id,

        -- names
        names.salutation,
        names.first_name,
        names.middle_name,
        names.last_name,
        names.name_suffix,
        names.canonical_first_name,
        names.date_of_birth,

        -- email
        emails.email_address,
        emails.is_email_valid,
        emails.email_domain,
        emails.is_role_email,
        emails.is_free_mail,
        emails.is_disposable_email,
        emails.email_match_key,

        -- phone
        phones.phone_e164,
        phones.is_phone_valid,
        phones.phone_number_type,

        -- postal address
        addresses.street_address,
        addresses.street_unit,
        addresses.house_number,
        addresses.street_pre_directional,
        addresses.street_pre_type,
        addresses.street_name,
        addresses.street_suffix,
        addresses.street_post_directional,
        addresses.is_street_address_parsed,
        addresses.street_parse_issue,
        addresses.city,
        countries.state_code,
        addresses.postal_code,
        addresses.postal_code_extension,
        addresses.is_postal_code_valid,
        countries.country_code,
        countries.country_code_source,

        -- company
        companies.company_name,
        companies.company_match_key,
        companies.company_domain,
        companies.company_domain_source,

        -- job title
        titles.job_title,
        titles.seniority,
        titles.department,

        -- originals, as exported
        names.salutation_original,
        names.first_name_original,
        names.last_name_original,
        names.full_name_original,
        names.date_of_birth_original,
        emails.email_original,
        phones.phone_original,
        addresses.street_line_1_original,
        addresses.street_line_2_original,
        addresses.city_original,
        countries.state_original,
        addresses.postal_code_original,
        countries.country_original,
        companies.company_name_original,
        companies.company_website_original,
        titles.job_title_original,

        -- lineage
        names.rules_checksum,
        greatest(
            names.cleaned_at, emails.cleaned_at, phones.cleaned_at, countries.cleaned_at, addresses.cleaned_at,
            companies.cleaned_at, titles.cleaned_at
        ) as cleaned_at

    from contacts
    inner join names on contacts.contact_record_id = names.contact_record_id
    inner join emails on contacts.contact_record_id = emails.contact_record_id
    inner join phones on contacts.contact_record_id = phones.contact_record_id
    inner join countries on contacts.contact_record_id = countries.contact_record_id
    inner join addresses on contacts.contact_record_id = addresses.contact_record_id
    inner join companies on contacts.contact_record_id = companies.contact_record_id
    inner join titles on contacts.contact_record_id = titles.contact_record_id

)

select * from final
{%- if is_incremental() %}
where cleaned_at > {{ watermark('cleaned_at') }}
{%- endif %}
