-- Matched answers of company providers (domain firmographics), flattened to typed columns;
-- the size band comes from the employee count, industry and revenue range through the
-- provider_enums seed.

{{ config(materialized='view') }}

with

answers as (

    select * from {{ ref('stg_enrichment__provider_responses') }}
    where provider_kind = 'company' and outcome = 'matched'

),

enums as (

    select * from {{ ref('provider_enums') }}

),

size_bands as (

    select * from {{ ref('company_size_bands') }}

),

flattened as (

    select
        request_id,
        provider,
        company_domain,
        likelihood,
        answered_at,
        nullif(trim({{ json_text('payload_json', '$.company.name') }}), '') as company_name,
        cast({{ json_text('payload_json', '$.company.metrics.employees') }} as {{ dbt.type_int() }})
            as employee_count,
        {{ json_text('payload_json', '$.company.metrics.employeesRange') }} as employee_range_provider_value,
        lower({{ json_text('payload_json', '$.company.category.industry') }}) as industry_provider_value,
        {{ json_text('payload_json', '$.company.metrics.estimatedAnnualRevenue') }} as revenue_provider_value,
        upper({{ json_text('payload_json', '$.company.geo.countryCode') }}) as country_code,
        cast({{ json_text('payload_json', '$.company.indexedAt') }} as date) as observed_on
    from answers

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
        band_of_count.company_size_band,
        flattened.employee_range_provider_value,
        industry.canonical_value as industry,
        flattened.industry_provider_value,
        revenue.canonical_value as revenue_range,
        flattened.revenue_provider_value,
        flattened.country_code,

        -- how sure, how recent
        flattened.likelihood,
        flattened.observed_on,
        flattened.answered_at

    from flattened
    left join enums as industry
        on
            industry.provider = flattened.provider and industry.enum_name = 'industry'
            and lower(industry.provider_value) = flattened.industry_provider_value
    left join enums as revenue
        on
            revenue.provider = flattened.provider and revenue.enum_name = 'revenue_range'
            and revenue.provider_value = flattened.revenue_provider_value
    left join size_bands as band_of_count
        on
            flattened.employee_count >= band_of_count.min_employees
            and (flattened.employee_count <= band_of_count.max_employees or band_of_count.max_employees is null)

)

select * from mapped
