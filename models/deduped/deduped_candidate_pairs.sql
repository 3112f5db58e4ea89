{{
    config(
        materialized='incremental',
        unique_key=['record_id_a', 'record_id_b']
    )
}}

-- Candidate pairs: every two records that share a block within its cap under at least
-- one blocking rule, once per pair (record_id_a < record_id_b), with the rules that
-- paired them.
--
-- Incremental, and equal to a full rebuild: a run pairs again only the records that
-- can have new or lost pairs: records matched (again) since the last run, and the
-- members of blocks that grew past their cap in this run. A pair of those records that
-- no longer exists is kept as a row with is_candidate false (the strategy replaces rows
-- by key; it cannot delete them), and later models read candidates only.

with

blocks as (

    select contact_record_id, blocking_rule, block_key, cleaned_at
    from {{ ref('deduped_record_blocks') }}

),

block_sizes as (

    select * from {{ ref('deduped_block_sizes') }}

),

records as (

    select contact_record_id, cleaned_at from {{ ref('deduped_match_records') }}

),

{% if is_incremental() %}

    -- records matched (again) since the pairs were last made
    changed_records as (

        select contact_record_id
        from records
        where cleaned_at > {{ watermark('records_cleaned_at') }}

    ),

    -- blocks that grew past their cap in this run: their members lose those pairs
    crossed_blocks as (

        select
            blocks.blocking_rule,
            blocks.block_key
        from blocks
        inner join changed_records on blocks.contact_record_id = changed_records.contact_record_id
        inner join block_sizes
            on blocks.blocking_rule = block_sizes.blocking_rule and blocks.block_key = block_sizes.block_key
        where not block_sizes.is_within_cap
        group by blocks.blocking_rule, blocks.block_key, block_sizes.block_size, block_sizes.max_block_size
        having block_sizes.block_size - count(*) <= block_sizes.max_block_size

    ),

    records_to_pair as (

        select contact_record_id from changed_records
        union
        select blocks.contact_record_id
        from blocks
        inner join crossed_blocks
            on blocks.blocking_rule = crossed_blocks.blocking_rule and blocks.block_key = crossed_blocks.block_key

    ),

{% else %}

    records_to_pair as (

        select contact_record_id from records

    ),

{% endif %}

usable_blocks as (

    select
        blocks.contact_record_id,
        blocks.blocking_rule,
        blocks.block_key
    from blocks
    inner join block_sizes
        on blocks.blocking_rule = block_sizes.blocking_rule and blocks.block_key = block_sizes.block_key
    where block_sizes.is_within_cap and block_sizes.block_size > 1

),

pairs as (

    select
        least(own.contact_record_id, other.contact_record_id) as record_id_a,
        greatest(own.contact_record_id, other.contact_record_id) as record_id_b,
        own.blocking_rule
    from usable_blocks as own
    inner join records_to_pair on own.contact_record_id = records_to_pair.contact_record_id
    inner join usable_blocks as other
        on
            own.blocking_rule = other.blocking_rule
            and own.block_key = other.block_key
            and own.contact_record_id <> other.contact_record_id

),

paired as (

    select
        record_id_a,
        record_id_b,
        {{ string_list_agg('blocking_rule') }} as blocking_rules,
        count(distinct blocking_rule) as blocking_rule_count,
        true as is_candidate
    from pairs
    group by record_id_a, record_id_b

),

{% if is_incremental() %}

    -- earlier pairs of the records paired again that exist no more
    lost_pairs as (

        select
            earlier.record_id_a,
            earlier.record_id_b,
            cast(null as {{ dbt.type_string() }}) as blocking_rules,
            0 as blocking_rule_count,
            false as is_candidate
        from {{ this }} as earlier
        left join paired
            on earlier.record_id_a = paired.record_id_a and earlier.record_id_b = paired.record_id_b
        where
            earlier.is_candidate
            and paired.record_id_a is null
            and (
                earlier.record_id_a in (select records_to_pair.contact_record_id from records_to_pair)
                or earlier.record_id_b in (select records_to_pair.contact_record_id from records_to_pair)
            )

    ),

    all_pairs as (

        select * from paired
        union all
        select * from lost_pairs

    ),

{% else %}

    all_pairs as (

        select * from paired

    ),

{% endif %}

final as (

    select
        all_pairs.*,
        greatest(record_a.cleaned_at, record_b.cleaned_at) as records_cleaned_at,
        '{{ deduped_rules_checksum() }}' as rules_checksum
    from all_pairs
    inner join records as record_a on all_pairs.record_id_a = record_a.contact_record_id
    inner join records as record_b on all_pairs.record_id_b = record_b.contact_record_id

)

select * from final
