-- Public model: one row per source record with the contact (golden record) it belongs
-- to. A contact is named after its cluster's earliest-arrived record, so an id never
-- changes while the cluster keeps that record: re-running on the same data changes no
-- id, a new record joining a cluster keeps its id, and when two contacts merge the older
-- id survives (the other is listed in contact_id_aliases). Each record says why it
-- joined its contact: the link that holds it there (a reviewer's must_link, a mailbox or
-- number only this person gives, or a match), the record at its other end, the pair's
-- match probability and its evidence field by field.

with

clusters as (

    select * from {{ ref('deduped_record_clusters') }}

),

records as (

    select
        contact_record_id,
        source_system,
        source_record_id,
        {{ source_record_key('source_system', 'source_record_id', 'contact_record_id') }} as source_record_key
    from {{ ref('deduped_match_records') }}

),

scores as (

    select * from {{ ref('deduped_pair_scores') }}

),

founding_records as (

    select
        arrival_rank,
        contact_record_id as founding_record_id
    from clusters
    where arrival_rank = cluster_rank

),

final as (

    select
        clusters.contact_record_id,
        'ct_' || left(md5(founding_records.founding_record_id), 16) as contact_id,
        records.source_system,
        records.source_record_id,
        records.source_record_key,
        founding_records.founding_record_id,
        clusters.contact_record_id = founding_records.founding_record_id as is_founding_record,
        count(*) over (partition by clusters.cluster_rank) as cluster_size,
        clusters.was_split_on_conflict,
        clusters.was_split_on_decision,
        clusters.has_identity_conflict,
        clusters.link_kind,
        clusters.linked_record_id,
        scores.match_probability as link_match_probability,
        {{ match_evidence('scores') }} as link_evidence,
        clusters.arrival_rank
    from clusters
    inner join founding_records on clusters.cluster_rank = founding_records.arrival_rank
    inner join records on clusters.contact_record_id = records.contact_record_id
    left join scores
        on
            least(clusters.contact_record_id, clusters.linked_record_id) = scores.record_id_a
            and greatest(clusters.contact_record_id, clusters.linked_record_id) = scores.record_id_b

)

select * from final
