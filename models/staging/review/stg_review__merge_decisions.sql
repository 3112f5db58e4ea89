-- The reviewers' merge decisions in force: one row per pair of source records (keys in
-- order), the latest decision on the pair; a pair whose latest decision is `withdrawn` has
-- none. Read by deduped_record_clusters (which honours them) and deduped_review_pairs.

with

source as (

    select * from {{ source('review', 'merge_decisions') }}

),

renamed as (

    select
        -- the pair, in key order
        least(trim(source_record_key_a), trim(source_record_key_b)) as source_record_key_a,
        greatest(trim(source_record_key_a), trim(source_record_key_b)) as source_record_key_b,

        -- the decision
        lower(trim(decision)) as decision,
        decided_by,
        note,

        -- timestamps
        decided_at
    from source
    where trim(source_record_key_a) <> trim(source_record_key_b)

),

ranked as (

    select
        *,
        count(*) over (partition by source_record_key_a, source_record_key_b) as decisions_on_pair,
        row_number() over (
            partition by source_record_key_a, source_record_key_b
            order by decided_at desc, decision desc
        ) as recency
    from renamed

),

final as (

    select
        source_record_key_a,
        source_record_key_b,
        decision,
        decided_at,
        decided_by,
        note,
        decisions_on_pair
    from ranked
    where recency = 1 and decision <> 'withdrawn'

)

select * from final
