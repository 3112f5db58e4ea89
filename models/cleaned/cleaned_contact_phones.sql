-- One row per staged source record with its phone number standardised: E.164 by
-- libphonenumber (the phone_parse function); a national number is read in the record's
-- country, else its email's country domain (.co.uk -> GB), else the default_phone_region
-- var (cleaned_contact_phone_regions). Also the number's own country, which
-- cleaned_contact_addresses falls back to.

with

-- the phone and the region a national number is read in, per record
contacts as (

    select
        regions.contact_record_id,
        regions.phone,
        regions.phone_region
    from {{ ref('cleaned_contact_phone_regions') }} as regions
    {{ not_cleaned_yet('regions') }}

),

countries as (

    select country_code from {{ ref('countries') }}

),

with_phone as (

    select
        contacts.*,
        {{ normalised('phone_parse', ['contacts.phone', 'contacts.phone_region']) }} as parsed_phone
    from contacts

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
