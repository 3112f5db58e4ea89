-- Candidate pairs: every two records that share a block under at least one blocking
-- rule, once per pair (record_id_a < record_id_b), with the rules that paired them.

with

blocks as (

    select * from {{ ref('deduped_record_blocks') }}
    where is_within_cap and block_size > 1

),

pairs as (

    select
        left_side.contact_record_id as record_id_a,
        right_side.contact_record_id as record_id_b,
        left_side.blocking_rule
    from blocks as left_side
    inner join blocks as right_side
        on
            left_side.blocking_rule = right_side.blocking_rule
            and left_side.block_key = right_side.block_key
            and left_side.contact_record_id < right_side.contact_record_id

),

final as (

    select
        record_id_a,
        record_id_b,
        {{ string_list_agg('blocking_rule') }} as blocking_rules,
        count(*) as blocking_rule_count
    from pairs
    group by record_id_a, record_id_b

)

select * from final
