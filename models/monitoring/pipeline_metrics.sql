{{ config(materialized='incremental', incremental_strategy='append', full_refresh=false) }}

{#- the dim_contacts columns whose null share is measured, and those with a validity flag -#}
{%- set key_fields = var('monitoring_key_fields') %}
{%- set validity_flags = {'email_address': 'is_email_valid', 'phone_e164': 'is_phone_valid'} %}

-- One set of rows per build (invocation), appended: how big each layer is, how much was
-- quarantined and merged, how the providers did, how big each segment is and how
-- complete and valid the key fields are. The tests on this model compare the latest set
-- with the thresholds of the monitoring_thresholds seed and with recent runs; the
-- nightly run report charts it. Long form: one row per (metric_group, metric_name,
-- dimension), so a new segment or provider needs no new column. `full_refresh=false`: the
-- history survives `dbt build --full-refresh` (which an erasure runs).

with

-- each table is read once: counts and sums first, then one row per metric from them

landing_contacts as (

    select count(*) as n_rows from {{ ref('stg_landing__contacts') }}

),

quarantine_counts as (

    select
        reason_code,
        count(*) as n_rows
    from {{ ref('stg_landing__quarantined_rows') }}
    group by reason_code

),

quarantined as (

    select coalesce(sum(n_rows), 0) as n_rows from quarantine_counts

),

file_loads as (

    select * from {{ ref('stg_landing__file_loads') }}

),

cleaned as (

    select count(*) as n_rows from {{ ref('cleaned_contacts') }}

),

golden as (

    select count(*) as n_rows from {{ ref('golden_contacts') }}

),

contact_stats as (

    select
        count(*) as n_contacts,
        {%- for field in key_fields %}
            sum(case when {{ field }} is null then 1 else 0 end) as {{ field }}_nulls,
        {%- endfor %}
        {%- for field, flag in validity_flags.items() %}
            sum(case when {{ flag }} then 1 else 0 end) as {{ field }}_valid,
            count({{ field }}) as {{ field }}_present,
        {%- endfor %}
        sum(case when can_be_contacted then 1 else 0 end) as n_contactable
    from {{ ref('dim_contacts') }}

),

provider_stats as (

    select
        provider,
        sum(case when is_answered then 1 else 0 end) as n_answered,
        sum(case when outcome = 'matched' then 1 else 0 end) as n_matched,
        coalesce(sum(credits_charged), 0) as credits
    from {{ ref('stg_enrichment__provider_responses') }}
    group by provider

),

pending_requests as (

    select
        provider,
        count(*) as n_requests
    from {{ ref('enrichment_requests') }}
    group by provider

),

catalog as (

    select * from {{ ref('segment_catalog') }}

),

member_counts as (

    select
        segment_name,
        count(*) as n_rows
    from {{ ref('segment_memberships') }}
    group by segment_name

),

export_counts as (

    select
        segment_name,
        count(*) as n_rows
    from {{ ref('campaign_export_contacts') }}
    group by segment_name

),

metrics as (

    -- volume: rows in and out of each layer
    select {{ metric_columns('volume', 'rows', "'landing'", 'n_rows') }} from landing_contacts
    union all
    select {{ metric_columns('volume', 'rows', "'cleaned'", 'n_rows') }} from cleaned
    union all
    select {{ metric_columns('volume', 'rows', "'deduped'", 'n_rows') }} from golden
    union all
    select {{ metric_columns('volume', 'rows', "'enriched'", 'n_contacts') }} from contact_stats
    union all
    select {{ metric_columns('volume', 'rows', "'exported'", 'coalesce(sum(n_rows), 0)') }} from export_counts
    union all
    select {{ metric_columns('volume', 'quarantined_rows', "'all'", 'n_rows') }} from quarantined
    union all
    select {{ metric_columns('volume', 'quarantined_rows', 'reason_code', 'n_rows') }} from quarantine_counts
    union all
    select
        {{ metric_columns('volume', 'quarantined_share', "'all'",
            'case when landing_contacts.n_rows + quarantined.n_rows > 0 then 1.0 * quarantined.n_rows'
            ~ ' / (landing_contacts.n_rows + quarantined.n_rows) end') }}
    from landing_contacts cross join quarantined
    union all
    select {{ metric_columns('volume', 'landing_files', 'load_status', 'count(*)') }}
    from file_loads
    group by load_status

    -- deduplication: records merged into another record's contact
    union all
    select {{ metric_columns('dedupe', 'duplicates_merged', "'all'", 'cleaned.n_rows - golden.n_rows') }}
    from cleaned cross join golden
    union all
    select
        {{ metric_columns('dedupe', 'duplicate_rate', "'all'",
            'case when cleaned.n_rows > 0 then 1.0 - 1.0 * golden.n_rows / cleaned.n_rows end') }}
    from cleaned cross join golden

    -- enrichment, per provider: share of answered requests that matched, credits, backlog
    union all
    select {{ metric_columns('enrichment', 'match_rate', 'provider', '1.0 * n_matched / n_answered') }}
    from provider_stats
    where n_answered > 0
    union all
    select {{ metric_columns('enrichment', 'requests_answered', 'provider', 'n_answered') }}
    from provider_stats
    where n_answered > 0
    union all
    select {{ metric_columns('enrichment', 'credits_charged', 'provider', 'credits') }} from provider_stats
    union all
    select {{ metric_columns('enrichment', 'requests_pending', 'provider', 'n_requests') }} from pending_requests

    -- segments: members, and those who reach the export (an empty segment counts 0)
    union all
    select
        {{ metric_columns('segments', 'segment_size', 'catalog.segment_name', 'coalesce(member_counts.n_rows, 0)') }}
    from catalog
    left join member_counts on catalog.segment_name = member_counts.segment_name
    union all
    select
        {{ metric_columns('segments', 'exported_rows', 'catalog.segment_name', 'coalesce(export_counts.n_rows, 0)') }}
    from catalog
    left join export_counts on catalog.segment_name = export_counts.segment_name

    -- quality of the golden records: null share of key fields, validity where flagged
    {%- for field in key_fields %}
        union all
        select
            {{ metric_columns('quality', 'null_share', "'" ~ field ~ "'",
                'case when n_contacts > 0 then 1.0 * ' ~ field ~ '_nulls / n_contacts end') }}
        from contact_stats
    {%- endfor %}
    {%- for field, flag in validity_flags.items() %}
        union all
        select
            {{ metric_columns('quality', 'valid_share', "'" ~ field ~ "'",
                '1.0 * ' ~ field ~ '_valid / nullif(' ~ field ~ '_present, 0)') }}
        from contact_stats
    {%- endfor %}
    union all
    select
        {{ metric_columns('quality', 'contactable_share', "'all'",
            'case when n_contacts > 0 then 1.0 * n_contactable / n_contacts end') }}
    from contact_stats

    -- freshness: hours since the newest landing file was loaded
    union all
    select
        {{ metric_columns('freshness', 'landing_age_hours', "'all'",
            dbt.datediff('max(finished_at)', dbt.current_timestamp(), 'hour')) }}
    from file_loads
    where load_status = 'loaded'

),

final as (

    select
        -- every column typed: a build outside the nightly run has no run id, and an
        -- untyped null would give the appended table a column no later build can fill
        cast('{{ invocation_id }}' as {{ dbt.type_string() }}) as invocation_id,
        cast({{ audit_literal(env_var('NIGHTLY_RUN_ID', '') or none) }} as {{ dbt.type_string() }})
            as nightly_run_id,
        cast({{ run_started_timestamp() }} as {{ dbt.type_timestamp() }}) as measured_at,
        cast(metric_group as {{ dbt.type_string() }}) as metric_group,
        cast(metric_name as {{ dbt.type_string() }}) as metric_name,
        cast(dimension as {{ dbt.type_string() }}) as dimension,
        cast(metric_value as double) as metric_value
    from metrics

)

select * from final
