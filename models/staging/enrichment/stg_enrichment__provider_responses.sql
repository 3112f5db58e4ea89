{%- set responses = source('enrichment', 'provider_responses') -%}
{#- `api` was added to the raw table later: a warehouse enriched before has no such column
    until its next enrichment run, and those answers were all People Data Labs person answers -#}
{%- set has_api = execute and relation_exists(responses) and 'api' in (
    adapter.get_columns_in_relation(responses) | map(attribute='name') | map('lower') | list) %}

with

source as (

    {% if relation_exists(responses) -%}
        select
            *{% if not has_api %},
            cast(null as {{ dbt.type_string() }}) as api{% endif %}
        from {{ responses }}
    {%- else -%}
        -- before the first enrichment run the raw table does not exist: same columns, no rows
        select
            cast(null as {{ dbt.type_string() }}) as request_id,
            cast(null as {{ dbt.type_string() }}) as provider,
            cast(null as {{ dbt.type_string() }}) as provider_kind,
            cast(null as {{ dbt.type_string() }}) as api,
            cast(null as {{ dbt.type_string() }}) as run_id,
            cast(null as {{ dbt.type_string() }}) as batch_id,
            cast(null as {{ dbt.type_string() }}) as contact_id,
            cast(null as {{ dbt.type_string() }}) as company_domain,
            cast(null as {{ dbt.type_string() }}) as requested_fields,
            cast(null as {{ dbt.type_int() }}) as attempts,
            cast(null as {{ dbt.type_timestamp() }}) as requested_at,
            cast(null as {{ dbt.type_timestamp() }}) as answered_at,
            cast(null as {{ dbt.type_int() }}) as http_status,
            cast(null as {{ dbt.type_int() }}) as item_status,
            cast(null as {{ dbt.type_string() }}) as outcome,
            cast(null as {{ dbt.type_int() }}) as likelihood,
            cast(null as {{ dbt.type_int() }}) as credits_charged,
            cast(null as {{ dbt.type_string() }}) as payload,
            cast(null as {{ dbt.type_string() }}) as error_message,
            cast(null as {{ dbt.type_boolean() }}) as may_be_billed,
            cast(null as {{ dbt.type_timestamp() }}) as _loaded_at,
            cast(null as {{ dbt.type_string() }}) as _dlt_load_id
        where 1 = 0
    {%- endif %}

),

renamed as (

    select
        -- ids
        request_id,
        provider,
        provider_kind,
        -- the vendor API asked, which says how the payload reads (null in rows written
        -- before the column existed; the answer models then take the provider's seed row)
        api as provider_api,
        contact_id,
        company_domain,
        run_id as enrichment_run_id,
        batch_id,

        -- the request
        requested_fields,
        attempts,

        -- the answer
        outcome,
        outcome in ('matched', 'not_found') as is_answered,
        http_status,
        item_status,
        likelihood,
        credits_charged,
        payload as payload_json,
        error_message,
        coalesce(may_be_billed, false) as may_be_billed,

        -- timestamps
        {{ to_utc_timestamp('requested_at') }} as requested_at,
        {{ to_utc_timestamp('answered_at') }} as answered_at,
        {{ to_utc_timestamp('_loaded_at') }} as loaded_at,

        -- lineage
        _dlt_load_id as dlt_load_id

    from source

)

select * from renamed
