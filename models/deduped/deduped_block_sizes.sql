{{
    config(
        materialized='incremental',
        unique_key=['blocking_rule', 'block_key']
    )
}}

-- One row per block (blocking rule and key) with its size and whether it is within the
-- rule's cap. A block over its cap (a switchboard, info@, a very common name at a huge
-- employer) is not used for pairs, so the candidate pairs stay near-linear in the number
-- of records; the other rules still see its records. Incremental: a run recounts the
-- blocks that records keyed since the last run joined.

with

blocks as (

    select * from {{ ref('deduped_record_blocks') }}

),

{% if is_incremental() %}

    touched_blocks as (

        select blocking_rule, block_key
        from blocks
        where cleaned_at > {{ watermark('last_cleaned_at') }}
        group by blocking_rule, block_key

    ),

    counted_blocks as (

        select blocks.*
        from blocks
        inner join touched_blocks
            on blocks.blocking_rule = touched_blocks.blocking_rule and blocks.block_key = touched_blocks.block_key

    ),

{% else %}

    counted_blocks as (

        select * from blocks

    ),

{% endif %}

sizes as (

    select
        blocking_rule,
        block_key,
        count(*) as block_size,
        max(cleaned_at) as last_cleaned_at
    from counted_blocks
    group by blocking_rule, block_key

),

rule_caps as (

    {% for rule in var('dedupe_blocking_rules') %}
        {% if not loop.first %}union all{% endif %}
        select
            '{{ rule.name }}' as blocking_rule,
            {{ rule.max_block_size }} as max_block_size
    {% endfor %}

),

final as (

    select
        sizes.blocking_rule,
        sizes.block_key,
        sizes.block_size,
        rule_caps.max_block_size,
        sizes.block_size <= rule_caps.max_block_size as is_within_cap,
        sizes.last_cleaned_at,
        '{{ deduped_rules_checksum() }}' as rules_checksum
    from sizes
    inner join rule_caps on sizes.blocking_rule = rule_caps.blocking_rule

)

select * from final
