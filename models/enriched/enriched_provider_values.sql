-- Every value a provider supplied for a live contact, one row per (contact, field,
-- provider): the provider's latest likely answer. Person answers follow a merged contact
-- to its live id (contact_id_aliases); their company facts count only for the company the
-- contact works at (same domain, or the contact has none), and reach every other contact
-- at that company's domain too, as company answers do: enrichment_requests counts a
-- domain's company facts as known whichever answer told them, so a colleague is not asked
-- and gets them here. dim_contacts chooses among these and the first-party values.

{#- the answers each kind of row comes from (colleague: a person answer's employer facts,
    for the other contacts at its domain), and the fields it supplies -#}
{%- set fields = {
    'person': ['job_title', 'seniority', 'department', 'company_name', 'company_size_band', 'industry'],
    'company': ['company_name', 'company_size_band', 'industry'],
    'colleague': ['company_size_band', 'industry'],
} %}
{%- set company_fields = ['company_name', 'company_size_band', 'industry'] %}
{#- a person answer's company facts are the employer the provider knows: the contact's? #}
{%- set same_employer = '(contact_company_domain is null or company_domain = contact_company_domain)' %}

with

contacts as (

    select contact_id, company_domain from {{ ref('golden_contacts') }}

),

aliases as (

    select retired_contact_id, contact_id from {{ ref('contact_id_aliases') }}

),

-- the id a person answer was asked for apart (answered_contact_id), so that the live id
-- below is the only contact_id; the columns named, so that no other contact_id comes along
-- (Spark refuses an ambiguous one)
person_answers as (

    select
        contact_id as answered_contact_id,
        request_id,
        provider,
        likelihood,
        observed_on,
        answered_at,
        company_domain,
        {{ fields['person'] | join(',\n        ') }}
    from {{ ref('enriched_person_answers') }}
    where coalesce(likelihood, 10) >= {{ var('enrichment_min_likelihood') }}

),

company_answers as (

    select * from {{ ref('enriched_company_answers') }}
    where coalesce(likelihood, 10) >= {{ var('enrichment_min_likelihood') }}

),

person_answers_of_live_contacts as (

    select
        contacts.contact_id,
        contacts.company_domain as contact_company_domain,
        person_answers.*
    from person_answers
    left join aliases on person_answers.answered_contact_id = aliases.retired_contact_id
    inner join contacts on coalesce(aliases.contact_id, person_answers.answered_contact_id) = contacts.contact_id

),

company_answers_of_live_contacts as (

    select
        contacts.contact_id,
        contacts.company_domain as contact_company_domain,
        company_answers.*
    from company_answers
    inner join contacts on company_answers.company_domain = contacts.company_domain

),

-- a person answer's employer facts, for the colleagues at its domain: each domain's latest
-- value of a field per provider first, then one row per colleague. (Joined first, a domain
-- with n contacts and m answers made n x m rows before the latest was picked.) The pick is
-- the one `latest` below makes among all of a contact's rows, so the result is the same
colleague_values as (

    {%- for field in fields['colleague'] %}
        select
            company_domain,
            '{{ field }}' as field_name,
            cast({{ field }} as {{ dbt.type_string() }}) as field_value,
            provider,
            request_id,
            likelihood,
            coalesce(cast(observed_on as timestamp), answered_at) as observed_at,
            answered_at,
            row_number() over (
                partition by company_domain, provider
                order by answered_at desc, request_id
            ) as recency
        from person_answers
        where {{ field }} is not null and company_domain is not null
        {{ "union all" if not loop.last }}
    {%- endfor %}

),

colleague_answers_of_live_contacts as (

    select
        contacts.contact_id,
        colleague_values.field_name,
        colleague_values.field_value,
        colleague_values.provider,
        colleague_values.request_id,
        colleague_values.likelihood,
        colleague_values.observed_at,
        colleague_values.answered_at
    from colleague_values
    inner join contacts on colleague_values.company_domain = contacts.company_domain
    where colleague_values.recency = 1

),

values_supplied as (

    select
        contact_id,
        field_name,
        field_value,
        provider,
        'person' as provider_kind,
        request_id,
        likelihood,
        observed_at,
        answered_at
    from colleague_answers_of_live_contacts
    union all

    {%- for kind, kind_fields in fields.items() if kind != 'colleague' %}
        {%- for field in kind_fields %}
            select
                contact_id,
                '{{ field }}' as field_name,
                cast({{ field }} as {{ dbt.type_string() }}) as field_value,
                provider,
                '{{ "person" if kind == "colleague" else kind }}' as provider_kind,
                request_id,
                likelihood,
                coalesce(cast(observed_on as timestamp), answered_at) as observed_at,
                answered_at
            from {{ kind }}_answers_of_live_contacts
            where {{ field }} is not null and {{ same_employer if kind == 'person' and field in company_fields else 'true' }}
            {{ "union all" if not loop.last }}
        {%- endfor %}
        {{ "union all" if not loop.last }}
    {%- endfor %}

),

latest as (

    select
        *,
        row_number() over (
            partition by contact_id, field_name, provider
            order by answered_at desc, request_id
        ) as recency
    from values_supplied

)

select
    contact_id,
    field_name,
    field_value,
    provider,
    provider_kind,
    request_id,
    likelihood,
    observed_at,
    answered_at
from latest
where recency = 1
