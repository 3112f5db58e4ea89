-- One row per staged source record with its postal address standardised: US street lines
-- parsed into their components (the street_parse function: usaddress labels the words)
-- and written in USPS Publication 28 form from the usps_* seeds, each distinct line
-- parsed once; lines that cannot be read as a street address are flagged, not passed
-- through; postal codes cut, padded, spaced and validated by the rule of the record's
-- country (cleaned_contact_countries); cities in one case.

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

-- the three Publication 28 tables, each as one text the parser reads, and their checksum
street_tables as (

    {{ usps_street_tables() }}

),

postal_code_rules as (

    select country_code, compact_pattern, zero_pad_to, keep_first, space_before_last, extension_pattern
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

-- street lines: both as one upper-case line, the second after a comma ("123 N. Main St." /
-- "Suite 200" -> "123 N. MAIN ST., SUITE 200"): commas tell the parser where a unit starts;
-- the parser reads the dots
street_lines as (

    select
        with_address_country.*,
        {{ street_compact('with_address_country.street_line_1', 'with_address_country.street_line_2') }}
            as street_compact
    from with_address_country

),

-- each distinct US line parsed once (many colleagues share an office's line)
us_lines as (

    select distinct street_compact
    from street_lines
    where address_country_code = 'US' and street_compact is not null

),

parsed_lines as (

    select
        us_lines.street_compact,
        {{ normalised(
            'street_parse',
            ['us_lines.street_compact', 'street_tables.suffixes', 'street_tables.designators',
             'street_tables.directionals'],
            keys=['us_lines.street_compact', 'street_tables.tables_key']
        ) }} as parsed
    from us_lines
    cross join street_tables

),

us_streets as (

    select
        street_lines.*,
        parsed_lines.street_compact is not null as is_street_parsed_line,
        {{ struct_field('parsed_lines.parsed', 'house_number') }} as parsed_house_number,
        {{ struct_field('parsed_lines.parsed', 'pre_directional') }} as parsed_pre_directional,
        {{ struct_field('parsed_lines.parsed', 'pre_type') }} as parsed_pre_type,
        {{ struct_field('parsed_lines.parsed', 'street_name') }} as parsed_street_name,
        {{ struct_field('parsed_lines.parsed', 'street_suffix') }} as parsed_street_suffix,
        {{ struct_field('parsed_lines.parsed', 'post_directional') }} as parsed_post_directional,
        {{ struct_field('parsed_lines.parsed', 'unit') }} as parsed_unit,
        {{ struct_field('parsed_lines.parsed', 'street_address') }} as parsed_street_address,
        {{ struct_field('parsed_lines.parsed', 'issue') }} as street_parse_issue
    from street_lines
    left join parsed_lines
        on
            street_lines.address_country_code = 'US'
            and street_lines.street_compact = parsed_lines.street_compact

),

-- postal codes: compact form, then split from an extension (ZIP+4), padded and spaced by
-- the country's rule, and validated
postal_compact as (

    select
        us_streets.*,
        nullif({{ regexp_replace_all('upper(us_streets.postal_code)', '[ .-]', '') }}, '') as postal_code_compact,
        -- "2108-1234": the code and its extension as written, around a hyphen or space
        regexp_extract(trim(upper(us_streets.postal_code)), '^([0-9A-Z]+) *[- ] *([0-9A-Z]+)$', 1)
            as postal_code_before_separator,
        regexp_extract(trim(upper(us_streets.postal_code)), '^([0-9A-Z]+) *[- ] *([0-9A-Z]+)$', 2)
            as postal_code_after_separator
    from us_streets

),

postal_kept as (

    select
        postal_compact.*,
        postal_code_rules.compact_pattern,
        postal_code_rules.zero_pad_to,
        postal_code_rules.keep_first,
        postal_code_rules.space_before_last,
        postal_code_rules.extension_pattern,
        coalesce(
            {{ matches_pattern_column(
                'postal_compact.postal_code_after_separator', 'postal_code_rules.extension_pattern') }}, false
        ) as is_extension_separated
    from postal_compact
    left join postal_code_rules
        on postal_compact.address_country_code = postal_code_rules.country_code

),

postal_split as (

    select
        postal_kept.*,
        case
            when postal_kept.is_extension_separated then postal_kept.postal_code_after_separator
            when length(postal_kept.postal_code_compact) > postal_kept.keep_first
                then substr(postal_kept.postal_code_compact, postal_kept.keep_first + 1)
        end as postal_code_extension,
        case
            when postal_kept.is_extension_separated then postal_kept.postal_code_before_separator
            when postal_kept.keep_first is not null
                then left(postal_kept.postal_code_compact, postal_kept.keep_first)
            else postal_kept.postal_code_compact
        end as postal_code_kept
    from postal_kept

),

postal_padded as (

    select
        postal_split.*,
        -- a spreadsheet ate the leading zero ("2108" -> "02108")
        case
            when
                {{ matches_pattern('postal_split.postal_code_kept', '[0-9]+') }}
                and length(postal_split.postal_code_kept) < postal_split.zero_pad_to
                then lpad(postal_split.postal_code_kept, postal_split.zero_pad_to, '0')
            else postal_split.postal_code_kept
        end as postal_code_padded
    from postal_split

),

postal_checked as (

    select
        postal_padded.*,
        -- the code in its country's format, and an extension (ZIP+4) exactly in its own:
        -- "120917" is neither a ZIP nor a ZIP+4
        coalesce(
            {{ matches_pattern_column('postal_padded.postal_code_padded', 'postal_padded.compact_pattern') }}
            and (
                postal_padded.postal_code_extension is null
                or {{ matches_pattern_column(
                    'postal_padded.postal_code_extension', 'postal_padded.extension_pattern') }}
            ),
            false
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

        -- postal address: US lines in Publication 28 form when parsed; a US line that could
        -- not be parsed keeps its compact upper-case form and is flagged; other countries'
        -- lines are trimmed as exported
        street_line_1 as street_line_1_original,
        street_line_2 as street_line_2_original,
        case
            when address_country_code = 'US' then coalesce(parsed_street_address, street_compact)
            else nullif(trim(concat_ws(' ', street_line_1, street_line_2)), '')
        end as street_address,
        parsed_unit as street_unit,
        parsed_house_number as house_number,
        parsed_pre_directional as street_pre_directional,
        parsed_pre_type as street_pre_type,
        parsed_street_name as street_name,
        parsed_street_suffix as street_suffix,
        parsed_post_directional as street_post_directional,
        case
            when is_street_parsed_line then street_parse_issue is null
        end as is_street_address_parsed,
        street_parse_issue,
        -- one case for every spelling of a city ("CHICAGO", "chicago" -> "Chicago")
        {{ normalised('city_case', ['city']) }} as city,
        city as city_original,
        postal_code as postal_code_original,
        case when is_postal_code_valid then postal_code_formatted end as postal_code,
        case when is_postal_code_valid then postal_code_extension end as postal_code_extension,
        is_postal_code_valid

    from postal_checked

)

select * from final
