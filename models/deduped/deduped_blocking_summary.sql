-- Monitoring of the blocking rules, one row per rule: how many records it keys, its
-- blocks, the largest block and how many blocks (and records) its cap left out, and the
-- candidate pairs it produced. Tests on this model catch a rule that starts producing
-- quadratic numbers of pairs, or whose cap starts to hide many records.

with

blocks as (

    select * from {{ ref('deduped_block_sizes') }}

),

candidate_rules as (

    select
        rules.blocking_rule,
        count(*) as candidate_pairs
    from {{ ref('deduped_candidate_pairs') }} as candidates
    cross join (
        {% for rule in var('dedupe_blocking_rules') %}
            {% if not loop.first %}union all{% endif %}
            select '{{ rule.name }}' as blocking_rule
        {% endfor %}
    ) as rules
    where
        candidates.is_candidate
        and ',' || candidates.blocking_rules || ',' like '%,' || rules.blocking_rule || ',%'
    group by rules.blocking_rule

),

record_count as (

    select count(*) as records from {{ ref('deduped_match_records') }}

),

rules as (

    select
        blocking_rule,
        sum(block_size) as records_keyed,
        count(*) as blocks,
        max(block_size) as largest_block,
        max(case when is_within_cap then block_size end) as largest_block_used,
        sum(case when not is_within_cap then 1 else 0 end) as blocks_over_cap,
        sum(case when not is_within_cap then block_size else 0 end) as records_in_blocks_over_cap
    from blocks
    group by blocking_rule

),

final as (

    select
        rules.blocking_rule,
        rules.records_keyed,
        rules.blocks,
        rules.largest_block,
        rules.largest_block_used,
        rules.blocks_over_cap,
        rules.records_in_blocks_over_cap,
        coalesce(candidate_rules.candidate_pairs, 0) as candidate_pairs,
        1.0 * coalesce(candidate_rules.candidate_pairs, 0) / nullif(record_count.records, 0) as pairs_per_record
    from rules
    cross join record_count
    left join candidate_rules on rules.blocking_rule = candidate_rules.blocking_rule

)

select * from final
