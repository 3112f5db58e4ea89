{{
    config(
        materialized='incremental',
        unique_key='contact_id'
    )
}}

-- The golden records behind the public golden_contacts: one row per contact id ever
-- built, is_live false once the contact merged into another. Each group of fields comes
-- whole from the one source record that wins that group's survivorship rules, and names
-- that record (provenance):
--   name      complete names over partial ones, a full first name over an initial,
--             then source priority (source_systems seed), then the most recent record
--   email     valid over invalid, not disposable, a person's over a role address, work
--             over private, then the most recent record, then source priority
--   phone     valid over invalid, a personal number over a switchboard, mobile over
--             landline, then the most recent record, then source priority
--   address   a street with a valid postal code over less, then the most recent
--             record, then source priority
--   company   the most recent record that names a company (people change jobs), then
--             source priority; the job title likewise
-- Ties always end on the earliest-arrived record, so the result is deterministic.
-- Consent is conservative: a contact is opted out when any of its records is.
--
-- Incremental, and equal to a full rebuild: each row stores a fingerprint of what its
-- survivorship read (its records, when each was last cleaned, which phones are
-- switchboards, the conflict flag, and the rules: this model's SQL and the seeds). A run
-- rebuilds only contacts whose fingerprint changed: new contacts, merges and splits,
-- re-cleaned records. A contact that no longer exists is kept with is_live false (the strategy
-- replaces rows by key; it cannot delete them).

with

identity_map as (

    select contact_record_id, contact_id, arrival_rank, has_identity_conflict
    from {{ ref('contact_identity_map') }}

),

sources as (

    select source_system, survivorship_priority from {{ ref('source_systems') }}

),

shared_phones as (

    select value_key as phone_key
    from {{ ref('deduped_value_frequencies') }}
    where value_type = 'phone' and is_shared

),

member_records as (

    select
        identity_map.contact_id,
        identity_map.contact_record_id,
        coalesce(shared_phones.phone_key is not null, false) as is_shared_phone,
        identity_map.has_identity_conflict,
        match_records.cleaned_at
    from identity_map
    inner join {{ ref('deduped_match_records') }} as match_records
        on identity_map.contact_record_id = match_records.contact_record_id
    left join shared_phones on match_records.phone_key = shared_phones.phone_key

),

fingerprints as (

    select
        contact_id,
        md5(
            '{{ rules_checksum([], models=["deduped_golden_records"], seeds=true) }}'
            || {{ string_list_agg(
                "contact_record_id || '@' || cast(cleaned_at as " ~ dbt.type_string() ~ ")"
                ~ " || case when is_shared_phone then '#' else '' end"
                ~ " || case when has_identity_conflict then '!' else '' end"
            ) }}
        ) as members_fingerprint
    from member_records
    group by contact_id

),

contacts_to_build as (

    select fingerprints.contact_id, fingerprints.members_fingerprint
    from fingerprints
    {%- if is_incremental() %}
    left join {{ this }} as built
        on fingerprints.contact_id = built.contact_id and built.is_live
    where built.contact_id is null or built.members_fingerprint <> fingerprints.members_fingerprint
    {%- endif %}

),

records as (

    select
        identity_map.contact_id,
        identity_map.arrival_rank,
        identity_map.has_identity_conflict,
        coalesce(sources.survivorship_priority, 999) as source_priority,
        match_records.source_updated_at,
        match_records.source_observed_at,
        match_records.loaded_at,
        match_records.is_opted_out,
        shared_phones.phone_key is not null as is_shared_phone,
        cleaned.*
    from {{ ref('cleaned_contacts') }} as cleaned
    inner join identity_map on cleaned.contact_record_id = identity_map.contact_record_id
    inner join contacts_to_build on identity_map.contact_id = contacts_to_build.contact_id
    inner join {{ ref('deduped_match_records') }} as match_records
        on cleaned.contact_record_id = match_records.contact_record_id
    left join sources on cleaned.source_system = sources.source_system
    left join shared_phones on {{ phone_key('cleaned.phone_e164') }} = shared_phones.phone_key

),

names as {{ survivor(
    'records', 'name',
    columns=['salutation', 'first_name', 'middle_name', 'last_name', 'name_suffix', 'canonical_first_name'],
    candidates='first_name is not null or last_name is not null',
    order_by=[
        'case when first_name is not null and last_name is not null then 0 else 1 end',
        'case when length(replace(first_name, \'.\', \'\')) > 1 then 0 else 1 end',
        'source_priority', 'source_observed_at desc nulls last', 'arrival_rank',
    ]) }},

emails as {{ survivor(
    'records', 'email',
    columns=['email_address', 'is_email_valid', 'email_domain', 'is_role_email', 'is_free_mail', 'is_disposable_email'],
    candidates='email_address is not null',
    order_by=[
        'case when is_email_valid then 0 else 1 end',
        'case when is_disposable_email then 1 else 0 end',
        'case when is_role_email then 1 else 0 end',
        'case when is_free_mail then 1 else 0 end',
        'source_observed_at desc nulls last', 'source_priority', 'arrival_rank',
    ]) }},

phones as {{ survivor(
    'records', 'phone',
    columns=['phone_e164', 'is_phone_valid', 'phone_number_type'],
    candidates='phone_e164 is not null',
    order_by=[
        'case when is_phone_valid then 0 else 1 end',
        'case when is_shared_phone then 1 else 0 end',
        "case when phone_number_type = 'mobile' then 0 else 1 end",
        'source_observed_at desc nulls last', 'source_priority', 'arrival_rank',
    ]) }},

addresses as {{ survivor(
    'records', 'address',
    columns=['street_address', 'street_unit', 'city', 'state_code', 'postal_code', 'postal_code_extension',
             'is_postal_code_valid', 'country_code'],
    candidates='street_address is not null or city is not null or postal_code is not null or country_code is not null',
    order_by=[
        'case when street_address is not null and is_postal_code_valid then 0 else 1 end',
        'case when is_postal_code_valid then 0 else 1 end',
        'source_observed_at desc nulls last', 'source_priority', 'arrival_rank',
    ]) }},

companies as {{ survivor(
    'records', 'company',
    columns=['company_name', 'company_match_key', 'company_domain'],
    candidates='company_name is not null or company_domain is not null',
    order_by=['source_observed_at desc nulls last', 'source_priority', 'arrival_rank']) }},

job_titles as {{ survivor(
    'records', 'job_title',
    columns=['job_title', 'seniority', 'department'],
    candidates='job_title is not null',
    order_by=['source_observed_at desc nulls last', 'source_priority', 'arrival_rank']) }},

contacts as (

    select
        contact_id,
        count(*) as source_record_count,
        {{ string_list_agg('source_system') }} as source_systems,
        max(case when is_opted_out then 1 else 0 end) = 1 as is_opted_out,
        max(case when has_identity_conflict then 1 else 0 end) = 1 as has_identity_conflict,
        min(loaded_at) as first_loaded_at,
        max(source_updated_at) as last_source_updated_at
    from records
    group by contact_id

),

final as (

    select
        -- ids
        contacts.contact_id,

        -- name
        names.salutation,
        names.first_name,
        names.middle_name,
        names.last_name,
        names.name_suffix,
        names.canonical_first_name,

        -- email
        emails.email_address,
        emails.is_email_valid,
        emails.email_domain,
        emails.is_role_email,
        emails.is_free_mail,
        emails.is_disposable_email,

        -- phone
        phones.phone_e164,
        phones.is_phone_valid,
        phones.phone_number_type,

        -- postal address
        addresses.street_address,
        addresses.street_unit,
        addresses.city,
        addresses.state_code,
        addresses.postal_code,
        addresses.postal_code_extension,
        addresses.is_postal_code_valid,
        addresses.country_code,

        -- company and role
        companies.company_name,
        companies.company_match_key,
        companies.company_domain,
        job_titles.job_title,
        job_titles.seniority,
        job_titles.department,

        -- consent and review
        contacts.is_opted_out,
        contacts.has_identity_conflict,

        -- provenance: the source record each group of fields came from
        names.name_record_id,
        names.name_source_system,
        emails.email_record_id,
        emails.email_source_system,
        phones.phone_record_id,
        phones.phone_source_system,
        addresses.address_record_id,
        addresses.address_source_system,
        companies.company_record_id,
        companies.company_source_system,
        job_titles.job_title_record_id,
        job_titles.job_title_source_system,

        -- sources
        contacts.source_record_count,
        contacts.source_systems,
        contacts.first_loaded_at,
        contacts.last_source_updated_at,

        -- incremental bookkeeping
        contacts_to_build.members_fingerprint,
        true as is_live

    from contacts
    inner join contacts_to_build on contacts.contact_id = contacts_to_build.contact_id
    left join names on contacts.contact_id = names.contact_id
    left join emails on contacts.contact_id = emails.contact_id
    left join phones on contacts.contact_id = phones.contact_id
    left join addresses on contacts.contact_id = addresses.contact_id
    left join companies on contacts.contact_id = companies.contact_id
    left join job_titles on contacts.contact_id = job_titles.contact_id

),

{% if is_incremental() %}

    -- contacts built before that exist no more (merged into an older one)
    retired as (

        {%- set built_columns = adapter.get_columns_in_relation(this) %}
        select
            {%- for column in built_columns %}
                {% if column.name == 'is_live' %}false{% else %}built.{{ column.name }}{% endif %} as {{ column.name }}
                {{- "," if not loop.last }}
            {%- endfor %}
        from {{ this }} as built
        left join fingerprints on built.contact_id = fingerprints.contact_id
        where built.is_live and fingerprints.contact_id is null

    )

{% else %}

    retired as (

        select * from final
        where false

    )

{% endif %}

select * from final
union all
select * from retired
