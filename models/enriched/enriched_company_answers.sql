-- Matched answers of company providers (People Data Labs bulk company enrichment, asked by
-- website), flattened to typed columns; the size band comes from the employee count (else
-- the provider's size range), industry and revenue range through the provider_enums seed.

{{ config(materialized='view') }}

with

answers as (

    select * from {{ ref('enriched_matched_answers') }}
    where provider_kind = 'company'

),

enums as (

    select * from {{ ref('provider_enums') }}

),

size_bands as (

    select * from {{ ref('company_size_bands') }}

),

countries as (

    select country_alias, country_code from {{ ref('country_aliases') }}

),

-- one flattening per vendor API: People Data Labs' company fields sit at the top level of
-- each item
flattened as (

    select
        request_id,
        provider,
        company_domain,
        likelihood,
        answered_at,
        nullif(trim(coalesce(
            {{ json_text('payload_json', '$.display_name') }}, {{ json_text('payload_json', '$.name') }}
        )), '') as company_name,
        cast({{ json_text('payload_json', '$.employee_count') }} as {{ dbt.type_int() }}) as employee_count,
        lower({{ json_text('payload_json', '$.size') }}) as company_size_provider_value,
        lower({{ json_text('payload_json', '$.industry') }}) as industry_provider_value,
        {{ json_text('payload_json', '$.inferred_revenue') }} as revenue_provider_value,
        lower({{ json_text('payload_json', '$.location.country') }}) as country_provider_value,
        cast(null as date) as observed_on
    from answers
    where answer_api = 'pdl_company_bulk'

),

mapped as (

    select
        -- ids
        flattened.request_id,
        flattened.provider,
        flattened.company_domain,

        -- the company
        flattened.company_name,
        flattened.employee_count,
        coalesce(band_of_count.company_size_band, company_size.canonical_value) as company_size_band,
        flattened.company_size_provider_value,
        industry.canonical_value as industry,
        flattened.industry_provider_value,
        revenue.canonical_value as revenue_range,
        flattened.revenue_provider_value,
        countries.country_code,

        -- how sure, how recent
        flattened.likelihood,
        flattened.observed_on,
        flattened.answered_at

    from flattened
    left join enums as company_size
        on
            company_size.provider = flattened.provider and company_size.enum_name = 'company_size'
            and company_size.provider_value = flattened.company_size_provider_value
    left join enums as industry
        on
            industry.provider = flattened.provider and industry.enum_name = 'industry'
            and industry.provider_value = flattened.industry_provider_value
    left join enums as revenue
        on
            revenue.provider = flattened.provider and revenue.enum_name = 'revenue_range'
            and revenue.provider_value = flattened.revenue_provider_value
    left join countries on flattened.country_provider_value = countries.country_alias
    left join size_bands as band_of_count
        on
            flattened.employee_count >= band_of_count.min_employees
            and (flattened.employee_count <= band_of_count.max_employees or band_of_count.max_employees is null)

)

select * from mapped
