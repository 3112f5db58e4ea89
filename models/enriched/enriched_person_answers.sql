-- Matched answers of person providers (People Data Labs bulk person enrichment, Apollo bulk
-- people match), each flattened by its API's shape to the same typed columns; provider
-- enums mapped to canonical values through the provider_enums seed. The employee count
-- decides the size band when the provider gives one.

{{ config(materialized='view') }}

with

answers as (

    select * from {{ ref('enriched_matched_answers') }}
    where provider_kind = 'person'

),

enums as (

    select * from {{ ref('provider_enums') }}

),

size_bands as (

    select * from {{ ref('company_size_bands') }}

),

-- one flattening per vendor API
pdl_person_bulk as (

    select
        request_id,
        provider,
        contact_id,
        likelihood,
        answered_at,
        nullif(trim({{ json_text('payload_json', '$.data.job_title') }}), '') as job_title,
        lower({{ json_text('payload_json', '$.data.job_title_levels[0]') }}) as seniority_provider_value,
        lower({{ json_text('payload_json', '$.data.job_title_role') }}) as department_provider_value,
        nullif(trim({{ json_text('payload_json', '$.data.job_company_name') }}), '') as company_name,
        lower(nullif(trim({{ json_text('payload_json', '$.data.job_company_website') }}), '')) as company_domain,
        lower({{ json_text('payload_json', '$.data.job_company_size') }}) as company_size_provider_value,
        cast({{ json_text('payload_json', '$.data.job_company_employee_count') }} as {{ dbt.type_int() }})
            as employee_count,
        lower({{ json_text('payload_json', '$.data.job_company_industry') }}) as industry_provider_value,
        {{ json_text('payload_json', '$.data.location_country') }} as location_country,
        {{ json_text('payload_json', '$.data.location_locality') }} as location_locality,
        cast({{ json_text('payload_json', '$.data.job_last_verified') }} as date) as observed_on
    from answers
    where answer_api = 'pdl_person_bulk'

),

-- Apollo's match: the person at the top level, the employer under `organization`; no
-- likelihood, no size range (the head count decides the band), no verification date
apollo_people_bulk_match as (

    select
        request_id,
        provider,
        contact_id,
        likelihood,
        answered_at,
        nullif(trim({{ json_text('payload_json', '$.title') }}), '') as job_title,
        lower({{ json_text('payload_json', '$.seniority') }}) as seniority_provider_value,
        lower({{ json_text('payload_json', '$.departments[0]') }}) as department_provider_value,
        nullif(trim({{ json_text('payload_json', '$.organization.name') }}), '') as company_name,
        lower(nullif(trim({{ json_text('payload_json', '$.organization.primary_domain') }}), '')) as company_domain,
        cast(null as {{ dbt.type_string() }}) as company_size_provider_value,
        cast({{ json_text('payload_json', '$.organization.estimated_num_employees') }} as {{ dbt.type_int() }})
            as employee_count,
        lower({{ json_text('payload_json', '$.organization.industry') }}) as industry_provider_value,
        {{ json_text('payload_json', '$.country') }} as location_country,
        {{ json_text('payload_json', '$.city') }} as location_locality,
        cast(null as date) as observed_on
    from answers
    where answer_api = 'apollo_people_bulk_match'

),

flattened as (

    select * from pdl_person_bulk
    union all
    select * from apollo_people_bulk_match

),

mapped as (

    select
        -- ids
        flattened.request_id,
        flattened.provider,
        flattened.contact_id,

        -- the person
        flattened.job_title,
        seniority.canonical_value as seniority,
        department.canonical_value as department,
        flattened.seniority_provider_value,
        flattened.department_provider_value,

        -- their employer
        flattened.company_name,
        flattened.company_domain,
        flattened.employee_count,
        coalesce(band_of_count.company_size_band, company_size.canonical_value) as company_size_band,
        flattened.company_size_provider_value,
        industry.canonical_value as industry,
        flattened.industry_provider_value,

        -- where they are
        flattened.location_country,
        flattened.location_locality,

        -- how sure, how recent
        flattened.likelihood,
        flattened.observed_on,
        flattened.answered_at

    from flattened
    left join enums as seniority
        on
            seniority.provider = flattened.provider and seniority.enum_name = 'seniority'
            and seniority.provider_value = flattened.seniority_provider_value
    left join enums as department
        on
            department.provider = flattened.provider and department.enum_name = 'department'
            and department.provider_value = flattened.department_provider_value
    left join enums as company_size
        on
            company_size.provider = flattened.provider and company_size.enum_name = 'company_size'
            and company_size.provider_value = flattened.company_size_provider_value
    left join enums as industry
        on
            industry.provider = flattened.provider and industry.enum_name = 'industry'
            and industry.provider_value = flattened.industry_provider_value
    left join size_bands as band_of_count
        on
            flattened.employee_count >= band_of_count.min_employees
            and (flattened.employee_count <= band_of_count.max_employees or band_of_count.max_employees is null)

)

select * from mapped
