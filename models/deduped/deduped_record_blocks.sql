{{
    config(
        materialized='incremental',
        unique_key='contact_record_id'
    )
}}

-- Blocking: which records are compared at all. One row per record and blocking rule
-- whose key columns the record has. The rules are the dedupe_blocking_rules var
-- (dbt_project.yml): each is a list of match-record columns that must all be equal.
-- Incremental: a run keys the records matched (again) since the last one; how big each
-- block is, and whether it is within its rule's cap, is deduped_block_sizes' business.

with

records as (

    select * from {{ ref('deduped_match_records') }}
    {%- if is_incremental() %}
    where cleaned_at > {{ watermark('cleaned_at') }}
    {%- endif %}

),

keyed as (

    {% for rule in var('dedupe_blocking_rules') %}
        {% if not loop.first %}union all{% endif %}
        select
            contact_record_id,
            '{{ rule.name }}' as blocking_rule,
            concat_ws('|', {{ rule.columns | join(', ') }}) as block_key,
            cleaned_at,
            '{{ deduped_rules_checksum() }}' as rules_checksum
        from records
        where {{ rule.columns | join(' is not null and ') }} is not null
    {% endfor %}

)

select * from keyed
