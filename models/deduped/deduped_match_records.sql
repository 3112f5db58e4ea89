{{
    config(
        materialized='incremental',
        unique_key='contact_record_id'
    )
}}

-- One row per cleaned source record with the values the matcher compares, in match form:
-- lower-case keys, usable contact points only (valid email and phone), and what orders
-- records without looking at the clock of the load: the file's modification time, path
-- and row (a cluster is named after its earliest record, so a warehouse rebuilt from the
-- same files names its contacts the same), and when the record's values were last known
-- true (survivorship). Incremental: a run adds the records the cleaned layer (re)cleaned
-- since the last one, and redoes all when the deduped rules changed (deduped_rules_checksum).

with

cleaned as (

    select * from {{ ref('cleaned_contacts') }}

),

staged as (

    select
        contact_record_id,
        file_load_id,
        source_file_path,
        source_row_number,
        loaded_at,
        source_updated_at,
        source_updated_at_text,
        is_opted_out
    from {{ ref('stg_landing__contacts') }}

),

file_loads as (

    select file_load_id, file_modified_at from {{ ref('stg_landing__file_loads') }}

),

match_values as (

    select
        -- ids
        cleaned.contact_record_id,
        cleaned.source_system,
        cleaned.source_record_id,

        -- names: the first name as given and with nicknames resolved (Bob -> robert)
        {{ lookup_key('cleaned.first_name') }} as given_name_key,
        {{ lookup_key('cleaned.canonical_first_name') }} as first_name_key,
        {{ lookup_key('cleaned.last_name') }} as last_name_key,
        -- both names in either order (first and last name typed into each other's fields)
        case
            when {{ lookup_key('cleaned.canonical_first_name') }} < {{ lookup_key('cleaned.last_name') }}
                then {{ lookup_key('cleaned.canonical_first_name') }} || '|' || {{ lookup_key('cleaned.last_name') }}
            else {{ lookup_key('cleaned.last_name') }} || '|' || {{ lookup_key('cleaned.canonical_first_name') }}
        end as name_pair_key,
        left({{ lookup_key('cleaned.canonical_first_name') }}, 1) as first_initial,
        left({{ lookup_key('cleaned.last_name') }}, 1) as last_initial,
        -- how the names sound (soundex macro): names misheard or mistyped block together
        {{ soundex('cleaned.canonical_first_name') }} as first_name_sound,
        {{ soundex('cleaned.last_name') }} as last_name_sound,
        cleaned.date_of_birth,

        -- contact points: only values that can identify someone
        case when cleaned.is_email_valid then cleaned.email_match_key end as email_key,
        case when cleaned.is_email_valid then cleaned.email_domain end as email_domain,
        coalesce(cleaned.is_email_valid and not cleaned.is_free_mail, false) as is_work_email,
        coalesce(cleaned.is_role_email, false) as is_role_email,
        case when cleaned.is_phone_valid then cleaned.phone_e164 end as phone_e164,
        -- valid or not: the same digits are the same number (phone_key macro)
        {{ phone_key("coalesce(case when cleaned.is_phone_valid then cleaned.phone_e164 end, cleaned.phone_original)") }} as phone_key,

        -- company, role and office
        cleaned.company_match_key,
        {{ title_key('cleaned.job_title') }} as job_title_key,
        cleaned.seniority,
        cleaned.department,
        cleaned.company_domain,
        cleaned.country_code,
        cleaned.postal_code,
        -- a US line read into its parts gives its house number and name; other lines give
        -- their first number and their words without digits
        case
            when cleaned.is_street_address_parsed then cleaned.house_number
            else nullif(regexp_extract(cleaned.street_address, '[0-9]+', 0), '')
        end as street_number,
        case
            when cleaned.is_street_address_parsed then {{ lookup_key('cleaned.street_name') }}
            else {{ lookup_key(regexp_replace_all('cleaned.street_address', '[0-9]', '')) }}
        end as street_name_key,
        {{ lookup_key('cleaned.city') }} as city_key,

        -- order and lineage
        staged.loaded_at,
        staged.file_load_id,
        staged.source_file_path,
        file_loads.file_modified_at as source_file_modified_at,
        staged.source_row_number,
        staged.source_updated_at,
        -- when the values were last known true: the record's own update time; when its file
        -- gives none, the file's (a newer export without an update column is newer); an
        -- update time given but unreadable counts as unknown
        case
            when staged.source_updated_at is not null then staged.source_updated_at
            when nullif(trim(staged.source_updated_at_text), '') is null then file_loads.file_modified_at
        end as source_observed_at,
        staged.is_opted_out,
        cleaned.cleaned_at,
        '{{ deduped_rules_checksum() }}' as rules_checksum

    from cleaned
    inner join staged on cleaned.contact_record_id = staged.contact_record_id
    inner join file_loads on staged.file_load_id = file_loads.file_load_id

),

final as (

    select
        *,
        -- the house number of a personal address: a record with a company gives its office's
        case when company_match_key is null then street_number end as home_street_number,
        -- both names' sounds in either order
        case
            when first_name_sound < last_name_sound then first_name_sound || '|' || last_name_sound
            else last_name_sound || '|' || first_name_sound
        end as name_sound_pair_key
    from match_values

)

select * from final
{%- if is_incremental() %}
where cleaned_at > {{ watermark('cleaned_at') }}
{%- endif %}
