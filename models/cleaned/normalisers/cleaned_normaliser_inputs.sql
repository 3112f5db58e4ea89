-- Every distinct argument the cleaned layer (and consent's keyed e-mail hash) passes to a
-- Python function, keyed as the `normalised` macro looks it up: one row per function and
-- key. When the normalisers are looked up in tables (normalisers = table, for an engine
-- whose session the project does not own), `python -m batch.normalise` computes the
-- keys not yet in normalised.<function> before the cleaned models are built, and removes
-- the ones no record passes any more (an erased person's). A superset is harmless (a
-- street line outside the US is parsed for nothing); a key missing here stops the model
-- that needs it (the `normalised` macro checks).

with

staged as (

    select first_name, last_name, full_name, city, street_line_1, street_line_2
    from {{ ref('stg_landing__contacts') }}

),

phone_regions as (

    select phone, phone_region from {{ ref('cleaned_contact_phone_regions') }}

),

emails as (

    select email_address, email_original from {{ ref('cleaned_contact_emails') }}

),

street_tables as (

    select tables_key from {{ ref('cleaned_usps_street_tables') }}

),

inputs as (

    select 'name_case' as function_name, first_name as key_1, cast(null as {{ dbt.type_string() }}) as key_2
    from staged
    union all
    select 'surname_case' as function_name, last_name as key_1, null as key_2 from staged
    union all
    select 'parse_person_name' as function_name, full_name as key_1, null as key_2 from staged
    union all
    select 'city_case' as function_name, city as key_1, null as key_2 from staged
    union all
    select 'phone_parse' as function_name, phone as key_1, phone_region as key_2 from phone_regions
    union all
    select
        'street_parse' as function_name,
        {{ street_compact('staged.street_line_1', 'staged.street_line_2') }} as key_1,
        street_tables.tables_key as key_2
    from staged
    cross join street_tables
    union all
    select 'email_hmac' as function_name, email_address as key_1, null as key_2 from emails
    union all
    select 'email_hmac' as function_name, email_original as key_1, null as key_2 from emails

)

select distinct function_name, key_1, key_2
from inputs
where key_1 is not null
