with

contacts as (

    select
        staged.contact_record_id,
        staged.salutation,
        staged.first_name,
        staged.last_name,
        staged.full_name,
        staged.date_of_birth_text
    from {{ ref('stg_landing__contacts') }} as staged
    {{ not_cleaned_yet('staged') }}

),

nicknames as (

    select nickname, canonical_first_name from {{ ref('nicknames') }}

),

salutations as (

    select salutation_key, salutation from {{ ref('salutations') }}

),

-- case fixed by name_case / surname_case, which keep mixed-case names as typed
cased as (

    select
        contacts.*,
        {{ normalised('name_case', ['contacts.first_name']) }} as first_name_cased,
        {{ normalised('surname_case', ['contacts.last_name']) }} as last_name_cased
    from contacts

),

-- a one-field name is split (parse_person_name) only when the record has neither first nor last name
full_names_to_parse as (

    select distinct full_name
    from cased
    where
        first_name_cased is null
        and last_name_cased is null
        and nullif(trim(full_name), '') is not null

),

parsed_full_names as (

    select
        full_name,
        {{ normalised('parse_person_name', ['full_name']) }} as parsed_name
    from full_names_to_parse

),

combined as (

    select
        cased.*,
        coalesce(
            cased.first_name_cased, {{ struct_field('parsed_full_names.parsed_name', 'first_name') }}
        ) as first_name_clean,
        {{ struct_field('parsed_full_names.parsed_name', 'middle_name') }} as middle_name_clean,
        coalesce(
            cased.last_name_cased, {{ struct_field('parsed_full_names.parsed_name', 'last_name') }}
        ) as last_name_clean,
        coalesce(
            nullif(trim(cased.salutation), ''), {{ struct_field('parsed_full_names.parsed_name', 'salutation') }}
        ) as salutation_text,
        {{ struct_field('parsed_full_names.parsed_name', 'suffix') }} as name_suffix
    from cased
    left join parsed_full_names
        on
            cased.full_name = parsed_full_names.full_name
            and cased.first_name_cased is null
            and cased.last_name_cased is null

),

final as (

    select
        combined.contact_record_id,
        {{ cleaned_lineage_columns() }},
        salutations.salutation,
        combined.first_name_clean as first_name,
        combined.middle_name_clean as middle_name,
        combined.last_name_clean as last_name,
        combined.name_suffix,
        -- for matching: Bob -> Robert, Liz -> Elizabeth (nicknames seed)
        coalesce(nicknames.canonical_first_name, combined.first_name_clean) as canonical_first_name,
        {{ parse_date_of_birth('combined.date_of_birth_text') }} as date_of_birth,
        combined.salutation as salutation_original,
        combined.first_name as first_name_original,
        combined.last_name as last_name_original,
        combined.full_name as full_name_original,
        combined.date_of_birth_text as date_of_birth_original
    from combined
    left join nicknames
        on lower(combined.first_name_clean) = lower(nicknames.nickname)
    left join salutations
        on {{ lookup_key('combined.salutation_text') }} = salutations.salutation_key

)

select * from final
