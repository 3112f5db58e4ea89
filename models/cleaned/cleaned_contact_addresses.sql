-- One row per staged source record with its postal address standardised: US street lines
-- in USPS Publication 28 form (unit designator, street suffix and pre-directional from
-- seeds); postal codes cut, padded, spaced and validated by the rule of the record's
-- country (cleaned_contact_countries).

with

contacts as (

    select
        staged.contact_record_id,
        staged.street_line_1,
        staged.street_line_2,
        staged.city,
        staged.postal_code
    from {{ ref('stg_landing__contacts') }} as staged
    {{ not_cleaned_yet('staged') }}

),

countries as (

    select contact_record_id, country_code from {{ ref('cleaned_contact_countries') }}

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

with_address_country as (

    select
        contacts.*,
        countries.country_code as address_country_code
    from contacts
    left join countries
        on contacts.contact_record_id = countries.contact_record_id

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

-- postal codes: compact form, then cut / padded / spaced by the country's rule, and validated
postal_compact as (

    select
        us_streets.*,
        nullif({{ regexp_replace_all('upper(us_streets.postal_code)', '[ .-]', '') }}, '') as postal_code_compact
    from us_streets

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
        postal_code as postal_code_original,
        case when is_postal_code_valid then postal_code_formatted end as postal_code,
        case when is_postal_code_valid then postal_code_extension end as postal_code_extension,
        is_postal_code_valid

    from postal_checked

)

select * from final
