{{ config(post_hook="{{ record_exits_of_retired_contacts() }}") }}

-- Public model: one row per live contact, the golden record extended with what the
-- enrichment providers supplied. For each enrichable field (the enrichment_field_policy
-- seed) one value is chosen among the first-party value and the providers' values
-- (enriched_provider_values):
--   fill_empty      the first-party value when there is one, else the best provider value
--   provider_wins   the best provider value when there is one, else the first-party value
-- The best provider value is the one of the lowest precedence (enrichment_field_precedence),
-- then the higher likelihood, then the more recent observation; answers below
-- enrichment_min_likelihood never got this far. Every chosen field names its source (a
-- CRM, or a provider) and when that source observed it.

{%- set as_of = enrichment_as_of() -%}
{%- set enrichable = {
    'job_title': 'job_title', 'seniority': 'job_title', 'department': 'job_title',
    'company_name': 'company', 'company_size_band': none, 'industry': none,
} -%}
{%- set completeness_fields = var('dim_contacts_completeness_fields') %}

with

contacts as (

    select * from {{ ref('golden_contacts') }}

),

consent as (

    select * from {{ ref('enriched_contact_consent') }}

),

policy as (

    select * from {{ ref('enrichment_field_policy') }}

),

precedence as (

    select * from {{ ref('enrichment_field_precedence') }}

),

provider_values as (

    select * from {{ ref('enriched_provider_values') }}

),

match_records as (

    select
        contact_record_id,
        coalesce(source_updated_at, loaded_at) as observed_at
    from {{ ref('deduped_match_records') }}

),

-- the CRMs' values of the enrichable fields, in the same long shape as the providers'
first_party_values as (

    {%- for field, group in enrichable.items() if group %}
        select
            contacts.contact_id,
            '{{ field }}' as field_name,
            cast(contacts.{{ field }} as {{ dbt.type_string() }}) as field_value,
            contacts.{{ group }}_source_system as value_source,
            'first_party' as source_kind,
            0 as precedence,
            cast(null as {{ dbt.type_int() }}) as likelihood,
            match_records.observed_at
        from contacts
        left join match_records on contacts.{{ group }}_record_id = match_records.contact_record_id
        where contacts.{{ field }} is not null
        {{ "union all" if not loop.last }}
    {%- endfor %}

),

candidates as (

    select * from first_party_values

    union all

    select
        provider_values.contact_id,
        provider_values.field_name,
        provider_values.field_value,
        provider_values.provider as value_source,
        'provider' as source_kind,
        precedence.precedence,
        provider_values.likelihood,
        provider_values.observed_at
    from provider_values
    inner join precedence
        on
            provider_values.field_name = precedence.field_name
            and provider_values.provider = precedence.provider

),

ranked as (

    select
        candidates.*,
        row_number() over (
            partition by candidates.contact_id, candidates.field_name
            order by
                case
                    when policy.write_policy = 'provider_wins' and candidates.source_kind = 'provider' then 0
                    when policy.write_policy = 'provider_wins' then 1
                    when candidates.source_kind = 'first_party' then 0
                    else 1
                end,
                candidates.precedence,
                candidates.likelihood desc nulls last,
                candidates.observed_at desc nulls last,
                candidates.value_source
        ) as choice
    from candidates
    -- a field without a policy is not enrichable: its first-party value stands alone
    left join policy on candidates.field_name = policy.field_name
    where policy.field_name is not null or candidates.source_kind = 'first_party'

),

chosen as (

    select
        {%- for field in enrichable %}
            max(case when field_name = '{{ field }}' then field_value end) as {{ field }},
            max(case when field_name = '{{ field }}' then value_source end) as {{ field }}_source,
            max(case when field_name = '{{ field }}' then observed_at end) as {{ field }}_observed_at,
        {%- endfor %}
        contact_id
    from ranked
    where choice = 1
    group by contact_id

),

enrichment_history as (

    select
        contact_id,
        max(answered_at) as last_enriched_at
    from provider_values
    group by contact_id

),

final as (

    select
        -- ids
        contacts.contact_id,

        -- name
        contacts.salutation,
        contacts.first_name,
        contacts.middle_name,
        contacts.last_name,
        contacts.name_suffix,

        -- email
        contacts.email_address,
        contacts.is_email_valid,
        contacts.email_domain,
        contacts.is_role_email,
        contacts.is_free_mail,

        -- phone
        contacts.phone_e164,
        contacts.is_phone_valid,
        contacts.phone_number_type,

        -- postal address
        contacts.street_address,
        contacts.street_unit,
        contacts.city,
        contacts.state_code,
        contacts.postal_code,
        contacts.country_code,

        -- company and role: first-party or provider, by the write policy
        chosen.company_name,
        contacts.company_domain,
        chosen.company_size_band,
        chosen.industry,
        chosen.job_title,
        chosen.seniority,
        chosen.department,

        -- provenance of each enrichable field: a CRM (source system) or a provider
        {%- for field in enrichable %}
            chosen.{{ field }}_source,
            chosen.{{ field }}_observed_at,
        {%- endfor %}

        -- consent
        consent.is_opted_out,
        consent.is_suppressed,
        consent.can_be_contacted,
        contacts.has_identity_conflict,

        -- quality and freshness (a double on every engine: Spark's division by a decimal is a decimal)
        cast(round(
            (
                {%- for field in completeness_fields %}
                    case when {{ 'chosen' if field in enrichable else 'contacts' }}.{{ field }} is not null then 1 else 0 end
                    {{- " +" if not loop.last }}
                {%- endfor %}
            ) / {{ completeness_fields | length }}.0, 2
        ) as double) as completeness_score,
        enrichment_history.last_enriched_at,
        coalesce(
            enrichment_history.last_enriched_at < {{ dbt.dateadd('day', -1 * var('enrichment_ttl_days'), as_of) }},
            false
        ) as needs_refresh,

        -- sources
        contacts.source_record_count,
        contacts.source_systems,
        contacts.first_loaded_at,
        contacts.last_source_updated_at

    from contacts
    inner join consent on contacts.contact_id = consent.contact_id
    left join chosen on contacts.contact_id = chosen.contact_id
    left join enrichment_history on contacts.contact_id = enrichment_history.contact_id

)

select * from final
