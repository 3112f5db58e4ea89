with

contacts as (

    select
        staged.contact_record_id,
        staged.phone,
        staged.country,
        staged.street_line_1,
        staged.street_line_2,
        staged.city,
        staged.state,
        staged.postal_code
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

state_aliases as (

    select country_code, state_key, state_code from {{ ref('state_aliases') }}

),

usps_street_suffixes as (

    select suffix_key, suffix_code from {{ ref('usps_street_suffixes') }}

),

usps_directionals as (

    select directional_key, directional_code from {{ ref('usps_directionals') }}

),

usps_unit_designators as (

    select designator_key, designator_code from {{ ref('usps_unit_designators') }}

),

postal_code_rules as (

    select country_code, compact_pattern, zero_pad_to, keep_first, space_before_last
    from {{ ref('postal_code_rules') }}

),

-- countries: any spelling in the country_aliases seed -> ISO 3166-1 alpha-2
with_country as (

    select
        contacts.*,
        emails.email_tld,
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

-- phones: E.164 by libphonenumber; national numbers read in the country, else the
-- email's country domain (.co.uk -> GB), else the default_phone_region var
with_phone as (

    select
        with_country.*,
        phone_parse(
            with_country.phone,
            coalesce(with_country.country_field_code, with_country.email_country_code, '{{ var("default_phone_region") }}')
        ) as parsed_phone
    from with_country

),

-- a record that names no country: the phone number's own country (when the countries
-- seed knows it), else the email's country domain, else a state spelling that means one
-- state in one country
unambiguous_state_aliases as (

    select
        state_key,
        max(country_code) as country_code
    from state_aliases
    group by state_key
    having count(*) = 1

),

with_address_country as (

    select
        with_phone.*,
        coalesce(
            with_phone.country_field_code,
            phone_countries.country_code,
            with_phone.email_country_code,
            unambiguous_state_aliases.country_code
        ) as address_country_code,
        case
            when with_phone.country_field_code is not null then 'country_field'
            when phone_countries.country_code is not null then 'phone'
            when with_phone.email_country_code is not null then 'email_domain'
            when unambiguous_state_aliases.country_code is not null then 'state'
        end as country_code_source
    from with_phone
    left join countries as phone_countries
        on {{ struct_field('with_phone.parsed_phone', 'region_code') }} = phone_countries.country_code
    left join unambiguous_state_aliases
        on {{ lookup_key('with_phone.state') }} = unambiguous_state_aliases.state_key

),

-- street lines: both as one upper-case line, punctuation as spaces ("123 N. Main St.,
-- Suite 200" -> "123 N MAIN ST SUITE 200"); US lines are then read the USPS Publication 28
-- way: unit designator, street suffix and pre-directional from seeds
street_lines as (

    select
        with_address_country.*,
        nullif(trim({{ regexp_replace_all(
            regexp_replace_all(
                "upper(replace(replace(replace(replace(concat_ws(' ', with_address_country.street_line_1, "
                ~ "with_address_country.street_line_2), '.', ''), '#', ' # '), chr(10), ' '), chr(13), ' '))",
                "[,;]", ' '),
            ' +', ' ') }}), '') as street_compact
    from with_address_country

),

unit_matches as (

    select
        street_lines.contact_record_id,
        usps_unit_designators.designator_key,
        usps_unit_designators.designator_code,
        instr(' ' || street_lines.street_compact || ' ', ' ' || usps_unit_designators.designator_key || ' ')
            as designator_position
    from street_lines
    inner join usps_unit_designators
        on
            street_lines.address_country_code = 'US'
            and instr(
                ' ' || street_lines.street_compact || ' ', ' ' || usps_unit_designators.designator_key || ' '
            ) > 1

),

first_units as (

    select
        unit_matches.*,
        row_number() over (
            partition by unit_matches.contact_record_id
            order by unit_matches.designator_position
        ) as match_rank
    from unit_matches

),

with_unit as (

    select
        street_lines.*,
        first_units.designator_code,
        case
            when first_units.designator_position is not null
                then trim(substr(street_lines.street_compact, 1, first_units.designator_position - 1))
            else street_lines.street_compact
        end as street_without_unit,
        case
            when first_units.designator_position is not null
                then nullif(trim(replace(substr(
                    street_lines.street_compact,
                    first_units.designator_position + length(first_units.designator_key)
                ), '#', '')), '')
        end as unit_value
    from street_lines
    left join first_units
        on
            street_lines.contact_record_id = first_units.contact_record_id
            and first_units.match_rank = 1

),

street_words as (

    select
        with_unit.*,
        regexp_extract(with_unit.street_without_unit, '^([0-9]+[A-Z]?) ', 1) as house_number,
        regexp_extract(with_unit.street_without_unit, '^[0-9]+[A-Z]? ([^ ]+) [^ ]', 1) as second_word,
        regexp_extract(with_unit.street_without_unit, ' ([^ ]+)$', 1) as last_word
    from with_unit

),

street_parts as (

    select
        street_words.*,
        usps_directionals.directional_code,
        usps_street_suffixes.suffix_code,
        length(street_words.house_number) + 1
        + case when usps_directionals.directional_code is not null then length(street_words.second_word) + 1 else 0 end
            as name_start_offset,
        case when usps_street_suffixes.suffix_code is not null then length(street_words.last_word) + 1 else 0 end
            as name_end_offset
    from street_words
    left join usps_directionals
        on
            street_words.address_country_code = 'US'
            and nullif(street_words.second_word, '') = usps_directionals.directional_key
    left join usps_street_suffixes
        on
            street_words.address_country_code = 'US'
            and nullif(street_words.last_word, '') = usps_street_suffixes.suffix_key
            and street_words.street_without_unit like '% % %'

),

us_streets as (

    select
        street_parts.*,
        case
            when street_parts.address_country_code = 'US' and nullif(street_parts.house_number, '') is not null
                then concat_ws(
                    ' ',
                    street_parts.house_number,
                    street_parts.directional_code,
                    trim(substr(
                        street_parts.street_without_unit,
                        street_parts.name_start_offset + 1,
                        length(street_parts.street_without_unit)
                        - street_parts.name_start_offset - street_parts.name_end_offset
                    )),
                    street_parts.suffix_code
                )
        end as us_street_address
    from street_parts

),

-- states and provinces: codes from the state_aliases seed, in the (inferred) country
with_state as (

    select
        us_streets.*,
        state_aliases.state_code
    from us_streets
    left join state_aliases
        on
            us_streets.address_country_code = state_aliases.country_code
            and {{ lookup_key('us_streets.state') }} = state_aliases.state_key

),

-- postal codes: compact form, then cut / padded / spaced by the country's rule, and validated
postal_compact as (

    select
        with_state.*,
        nullif({{ regexp_replace_all('upper(with_state.postal_code)', '[ .-]', '') }}, '') as postal_code_compact
    from with_state

),

postal_kept as (

    select
        postal_compact.*,
        postal_code_rules.compact_pattern,
        postal_code_rules.zero_pad_to,
        postal_code_rules.space_before_last,
        case
            when length(postal_compact.postal_code_compact) > postal_code_rules.keep_first
                then substr(postal_compact.postal_code_compact, postal_code_rules.keep_first + 1)
        end as postal_code_extension,
        case
            when postal_code_rules.keep_first is not null
                then left(postal_compact.postal_code_compact, postal_code_rules.keep_first)
            else postal_compact.postal_code_compact
        end as postal_code_kept
    from postal_compact
    left join postal_code_rules
        on postal_compact.address_country_code = postal_code_rules.country_code

),

postal_padded as (

    select
        postal_kept.*,
        -- a spreadsheet ate the leading zero ("2108" -> "02108")
        case
            when
                {{ matches_pattern('postal_kept.postal_code_kept', '[0-9]+') }}
                and length(postal_kept.postal_code_kept) < postal_kept.zero_pad_to
                then lpad(postal_kept.postal_code_kept, postal_kept.zero_pad_to, '0')
            else postal_kept.postal_code_kept
        end as postal_code_padded
    from postal_kept

),

postal_checked as (

    select
        postal_padded.*,
        coalesce(
            {{ matches_pattern_column('postal_padded.postal_code_padded', 'postal_padded.compact_pattern') }}, false
        ) as is_postal_code_valid,
        case
            when length(postal_padded.postal_code_padded) > postal_padded.space_before_last
                then left(
                    postal_padded.postal_code_padded,
                    length(postal_padded.postal_code_padded) - postal_padded.space_before_last
                ) || ' ' || right(postal_padded.postal_code_padded, postal_padded.space_before_last)
            else postal_padded.postal_code_padded
        end as postal_code_formatted
    from postal_padded

),

final as (

    select
        contact_record_id,
        {{ cleaned_lineage_columns() }},

        -- phone
        phone as phone_original,
        {{ struct_field('parsed_phone', 'e164') }} as phone_e164,
        coalesce({{ struct_field('parsed_phone', 'is_valid') }}, false) as is_phone_valid,
        {{ struct_field('parsed_phone', 'number_type') }} as phone_number_type,

        -- postal address
        street_line_1 as street_line_1_original,
        street_line_2 as street_line_2_original,
        coalesce(us_street_address, nullif(trim(concat_ws(' ', street_line_1, street_line_2)), ''))
            as street_address,
        case when designator_code is not null then concat_ws(' ', designator_code, unit_value) end
            as street_unit,
        directional_code as street_directional,
        suffix_code as street_suffix,
        nullif(trim(city), '') as city,
        state as state_original,
        state_code,
        postal_code as postal_code_original,
        case when is_postal_code_valid then postal_code_formatted end as postal_code,
        case when is_postal_code_valid then postal_code_extension end as postal_code_extension,
        is_postal_code_valid,

        -- country
        country as country_original,
        address_country_code as country_code,
        country_code_source

    from postal_checked

)

select * from final
