-- The clustering converged and kept every link it should: both records of a matched pair
-- are in one cluster, unless the pair is a weak link (names and company only) inside a
-- cluster that was split on a conflict, or a reviewer's cannot_link split the cluster
-- (assert_merge_decisions_are_honoured checks those). Fails with the pairs that were left
-- apart.

with

matches as (

    select record_id_a, record_id_b, is_strong_link
    from {{ ref('deduped_pair_scores') }}
    where is_match

),

clusters as (

    select * from {{ ref('deduped_record_clusters') }}

)

select
    matches.record_id_a,
    matches.record_id_b,
    matches.is_strong_link
from matches
inner join clusters as cluster_a on matches.record_id_a = cluster_a.contact_record_id
inner join clusters as cluster_b on matches.record_id_b = cluster_b.contact_record_id
where
    cluster_a.cluster_rank <> cluster_b.cluster_rank
    and not (cluster_a.was_split_on_decision or cluster_b.was_split_on_decision)
    and (matches.is_strong_link or not (cluster_a.was_split_on_conflict or cluster_b.was_split_on_conflict))
