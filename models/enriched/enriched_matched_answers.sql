-- Every matched provider answer with the vendor API that gave it: the one recorded with the
-- answer, else (answers recorded before the raw table had the column) the provider's row of
-- the enrichment_providers seed. enriched_person_answers and enriched_company_answers read
-- each payload by that API's shape.

{{ config(materialized='view') }}

with

responses as (

    select * from {{ ref('stg_enrichment__provider_responses') }}
    where outcome = 'matched'

),

providers as (

    select provider, api from {{ ref('enrichment_providers') }}

),

resolved as (

    select
        -- ids
        responses.request_id,
        responses.provider,
        responses.provider_kind,
        coalesce(responses.provider_api, providers.api) as answer_api,
        responses.contact_id,
        responses.company_domain,

        -- the answer
        responses.likelihood,
        responses.payload_json,
        responses.answered_at

    from responses
    left join providers on responses.provider = providers.provider

)

select * from resolved
