-- What the enrichment loader may ask each provider tonight: one row per (provider, subject),
-- the subject being a contact for person providers and a company domain for company
-- providers. A row exists only when the provider supplies a target field (job title,
-- seniority, company size, industry) that the contact misses, first-party or from a
-- fresh, likely answer, and the provider is not resting on that subject: a match stays
-- good for the TTL, a "not found" is not asked again before the back-off. Opted-out and
-- suppressed contacts are never asked about; company lookups skip free-mail and
-- disposable domains. The loader asks in waterfall_rank order and drops, at run time,
-- the fields an earlier provider has just supplied. See the enriched_layer doc.

{%- set as_of = enrichment_as_of() -%}
{%- set fresh_since = dbt.dateadd('day', -1 * var('enrichment_ttl_days'), as_of) -%}
{%- set not_found_since = dbt.dateadd('day', -1 * var('enrichment_not_found_backoff_days'), as_of) %}

with

contacts as (

    select * from {{ ref('golden_contacts') }}

),

consent as (

    select * from {{ ref('enriched_contact_consent') }}

),

providers as (

    select * from {{ ref('enrichment_providers') }}

),

free_mail_domains as (

    select email_domain from {{ ref('free_mail_domains') }}
    union all
    select email_domain from {{ ref('disposable_email_domains') }}

),

all_responses as (

    select * from {{ ref('stg_enrichment__provider_responses') }}

),

responses as (

    select * from all_responses
    where is_answered

),

person_answers as (

    select * from {{ ref('enriched_person_answers') }}

),

-- answers that still count: younger than the TTL and likely enough
fresh_person_answers as (

    select * from person_answers
    where
        answered_at >= {{ fresh_since }}
        and coalesce(likelihood, 10) >= {{ var('enrichment_min_likelihood') }}

),

fresh_company_answers as (

    select * from {{ ref('enriched_company_answers') }}
    where
        answered_at >= {{ fresh_since }}
        and coalesce(likelihood, 10) >= {{ var('enrichment_min_likelihood') }}

),

contact_facts as (

    select
        contact_id,
        max(case when job_title is not null then 1 else 0 end) = 1 as knows_job_title,
        max(case when seniority is not null then 1 else 0 end) = 1 as knows_seniority,
        max(case when company_size_band is not null then 1 else 0 end) = 1 as knows_company_size,
        max(case when industry is not null then 1 else 0 end) = 1 as knows_industry
    from fresh_person_answers
    group by contact_id

),

-- company facts are the domain's, whichever provider told them
domain_facts as (

    select
        company_domain,
        max(case when company_size_band is not null then 1 else 0 end) = 1 as knows_company_size,
        max(case when industry is not null then 1 else 0 end) = 1 as knows_industry
    from (
        select company_domain, company_size_band, industry from fresh_person_answers
        union all
        select company_domain, company_size_band, industry from fresh_company_answers
    ) as company_facts
    where company_domain is not null
    group by company_domain

),

previously_enriched as (

    select distinct contact_id from person_answers

),

wanted as (

    select
        contacts.contact_id,
        contacts.email_address,
        contacts.is_email_valid,
        contacts.first_name,
        contacts.last_name,
        contacts.company_name,
        case when free_mail_domains.email_domain is null then contacts.company_domain end as company_domain,
        contacts.job_title is null and not coalesce(contact_facts.knows_job_title, false) as wants_job_title,
        contacts.seniority is null and not coalesce(contact_facts.knows_seniority, false) as wants_seniority,
        not coalesce(contact_facts.knows_company_size, false)
        and not coalesce(domain_facts.knows_company_size, false) as wants_company_size,
        not coalesce(contact_facts.knows_industry, false)
        and not coalesce(domain_facts.knows_industry, false) as wants_industry,
        case when previously_enriched.contact_id is null then 'missing' else 'stale' end as request_reason
    from contacts
    left join contact_facts on contacts.contact_id = contact_facts.contact_id
    left join domain_facts on contacts.company_domain = domain_facts.company_domain
    left join free_mail_domains on contacts.company_domain = free_mail_domains.email_domain
    left join previously_enriched on contacts.contact_id = previously_enriched.contact_id
    inner join consent on contacts.contact_id = consent.contact_id
    where consent.can_be_contacted

),

person_requests as (

    select
        providers.provider,
        providers.provider_kind,
        providers.waterfall_rank,
        wanted.contact_id as subject_key,
        wanted.contact_id,
        wanted.company_domain,
        case when wanted.is_email_valid then wanted.email_address end as lookup_email,
        wanted.first_name as lookup_first_name,
        wanted.last_name as lookup_last_name,
        coalesce(wanted.company_domain, wanted.company_name) as lookup_company,
        wanted.wants_job_title and providers.supplies_job_title as wants_job_title,
        wanted.wants_seniority and providers.supplies_seniority as wants_seniority,
        wanted.wants_company_size and providers.supplies_company_size as wants_company_size,
        wanted.wants_industry and providers.supplies_industry as wants_industry,
        wanted.request_reason,
        1 as contacts_waiting
    from wanted
    cross join providers
    where
        providers.provider_kind = 'person'
        -- something to match on: an address, or a name at a company
        and (
            wanted.is_email_valid
            or (
                wanted.first_name is not null and wanted.last_name is not null
                and coalesce(wanted.company_domain, wanted.company_name) is not null
            )
        )

),

company_requests as (

    select
        providers.provider,
        providers.provider_kind,
        providers.waterfall_rank,
        wanted.company_domain as subject_key,
        cast(null as {{ dbt.type_string() }}) as contact_id,
        wanted.company_domain,
        cast(null as {{ dbt.type_string() }}) as lookup_email,
        cast(null as {{ dbt.type_string() }}) as lookup_first_name,
        cast(null as {{ dbt.type_string() }}) as lookup_last_name,
        wanted.company_domain as lookup_company,
        false as wants_job_title,
        false as wants_seniority,
        max(case when wanted.wants_company_size and providers.supplies_company_size then 1 else 0 end) = 1
            as wants_company_size,
        max(case when wanted.wants_industry and providers.supplies_industry then 1 else 0 end) = 1
            as wants_industry,
        min(wanted.request_reason) as request_reason,
        sum(case when wanted.wants_company_size or wanted.wants_industry then 1 else 0 end) as contacts_waiting
    from wanted
    cross join providers
    where
        providers.provider_kind = 'company'
        and wanted.company_domain is not null
    group by providers.provider, providers.provider_kind, providers.waterfall_rank, wanted.company_domain

),

candidates as (

    select * from person_requests
    union all
    select * from company_requests

),

-- the latest answer of each provider about each subject
latest_answers as (

    select
        provider,
        coalesce(contact_id, company_domain) as subject_key,
        request_id,
        outcome,
        answered_at,
        row_number() over (
            partition by provider, coalesce(contact_id, company_domain)
            order by answered_at desc, request_id
        ) as recency
    from responses

),

failed_attempts as (

    select
        request_id,
        count(*) as failed_attempts,
        sum(case when may_be_billed then 1 else 0 end) as lost_answers,
        min(requested_at) as first_requested_at
    from all_responses
    where not is_answered
    group by request_id

),

keyed as (

    select
        candidates.*,
        -- stable while the request waits for an answer (so a retry is never billed twice),
        -- new once the provider has answered and the TTL or back-off has passed
        {{ dbt.hash(dbt.concat([
            "candidates.provider", "'|'", "candidates.subject_key",
            "'|'", "coalesce(candidates.lookup_email, '')",
            "'|'", "coalesce(candidates.lookup_first_name, '')",
            "'|'", "coalesce(candidates.lookup_last_name, '')",
            "'|'", "coalesce(candidates.lookup_company, '')",
            "'|'", "coalesce(latest_answers.request_id, '')"])) }} as request_id,
        latest_answers.request_id as previous_request_id,
        latest_answers.outcome as previous_outcome,
        latest_answers.answered_at as previous_answered_at
    from candidates
    left join latest_answers
        on
            candidates.provider = latest_answers.provider
            and candidates.subject_key = latest_answers.subject_key
            and latest_answers.recency = 1

),

wanted_requests as (

    select
        keyed.*,
        coalesce(failed_attempts.failed_attempts, 0) as failed_attempts,
        coalesce(failed_attempts.lost_answers, 0) as lost_answers,
        failed_attempts.first_requested_at
    from keyed
    left join failed_attempts on keyed.request_id = failed_attempts.request_id
    where
        -- a lost answer is not fetched for its own sake: a provider without an idempotency
        -- key bills every time it is asked
        (keyed.wants_job_title or keyed.wants_seniority or keyed.wants_company_size or keyed.wants_industry)
        -- a provider rests on a subject it matched within the TTL or did not find within the back-off
        and not coalesce(
            (keyed.previous_outcome = 'matched' and keyed.previous_answered_at >= {{ fresh_since }})
            or (keyed.previous_outcome = 'not_found' and keyed.previous_answered_at >= {{ not_found_since }}),
            false
        )

),

final as (

    select
        -- ids
        keyed.request_id,
        keyed.provider,
        keyed.provider_kind,
        keyed.waterfall_rank,
        keyed.subject_key,
        keyed.contact_id,
        keyed.company_domain,

        -- what the provider matches on
        keyed.lookup_email,
        keyed.lookup_first_name,
        keyed.lookup_last_name,
        keyed.lookup_company,

        -- what is asked for, and why
        keyed.wants_job_title,
        keyed.wants_seniority,
        keyed.wants_company_size,
        keyed.wants_industry,
        trim({{ dbt.concat([
            "case when keyed.wants_job_title then 'job_title ' else '' end",
            "case when keyed.wants_seniority then 'seniority ' else '' end",
            "case when keyed.wants_company_size then 'company_size ' else '' end",
            "case when keyed.wants_industry then 'industry' else '' end"]) }}) as requested_fields,
        keyed.request_reason,
        keyed.contacts_waiting,

        -- history of this subject with this provider
        keyed.previous_request_id,
        keyed.previous_outcome,
        keyed.previous_answered_at,
        keyed.failed_attempts,
        keyed.lost_answers,
        keyed.first_requested_at

    from wanted_requests as keyed

)

select * from final
