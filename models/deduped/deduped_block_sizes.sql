-- One row per block (blocking rule and key) with its size and whether it is within the
-- rule's cap. A block over its cap (a switchboard, info@, a very common name at a huge
-- employer) is not used for pairs, so the candidate pairs stay near-linear in the number
-- of records; the other rules still see its records.

with

sizes as (

    select
        blocking_rule,
        block_key,
        count(*) as block_size
    from {{ ref('deduped_record_blocks') }}
    group by blocking_rule, block_key

),

final as (

    select
        blocking_rule,
        block_key,
        block_size,
        case blocking_rule
            {%- for rule in var('dedupe_blocking_rules') %}
                when '{{ rule.name }}' then block_size <= {{ rule.max_block_size }}
            {%- endfor %}
        end as is_within_cap
    from sizes

)

select * from final
