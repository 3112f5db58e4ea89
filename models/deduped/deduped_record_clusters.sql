-- Clustering: one row per record with the cluster it belongs to. Clusters are the
-- connected components of the matched pairs (connected_components macro), with one
-- safeguard: a cluster that would hold a clear conflict (two different personal
-- mailboxes at one company domain: two colleagues) keeps only its strong links (same
-- mailbox, same personal number) and is split along them. A conflict that strong links
-- alone make is kept and flagged (has_identity_conflict) for review. A cluster is
-- identified by its earliest record (arrival_rank: the file's modification time, then
-- file path and row: the data's own order, not the load's clock, so the same files give
-- the same contacts and ids however and whenever they are loaded).

with

records as (

    select
        contact_record_id,
        email_key,
        email_domain,
        is_work_email,
        row_number() over (
            order by source_file_modified_at, source_file_path, source_row_number, contact_record_id
        ) as arrival_rank
    from {{ ref('deduped_match_records') }}

),

matches as (

    select record_id_a, record_id_b, is_strong_link
    from {{ ref('deduped_pair_scores') }}
    where is_match

),

match_edges as (

    select
        ranks_a.arrival_rank as node_a,
        ranks_b.arrival_rank as node_b,
        matches.is_strong_link
    from matches
    inner join records as ranks_a on matches.record_id_a = ranks_a.contact_record_id
    inner join records as ranks_b on matches.record_id_b = ranks_b.contact_record_id

),

first_pass as (

    select * from {{ connected_components('match_edges') }} as components

),

-- mailboxes several people use (info@, team lists) are no conflict
shared_emails as (

    select value_key as email_key
    from {{ ref('deduped_value_frequencies') }}
    where value_type = 'email' and is_shared

),

-- the personal work mailbox of each record: two different ones at one company domain
-- in one cluster are two people
work_mailboxes as (

    select
        records.arrival_rank,
        records.email_domain,
        records.email_key
    from records
    left join shared_emails on records.email_key = shared_emails.email_key
    where records.is_work_email and shared_emails.email_key is null

),

conflicted_domains as (

    select
        first_pass.component,
        work_mailboxes.email_domain
    from first_pass
    inner join work_mailboxes on first_pass.node = work_mailboxes.arrival_rank
    group by first_pass.component, work_mailboxes.email_domain
    having count(distinct work_mailboxes.email_key) > 1

),

conflicted_clusters as (

    select distinct component from conflicted_domains

),

trusted_edges as (

    select match_edges.node_a, match_edges.node_b
    from match_edges
    left join first_pass on match_edges.node_a = first_pass.node
    left join conflicted_clusters on first_pass.component = conflicted_clusters.component
    where match_edges.is_strong_link or conflicted_clusters.component is null

),

second_pass as (

    select * from {{ connected_components('trusted_edges') }} as components

),

clustered as (

    select
        records.contact_record_id,
        records.arrival_rank,
        coalesce(second_pass.component, records.arrival_rank) as cluster_rank,
        conflicted_clusters.component is not null as was_split_on_conflict
    from records
    left join second_pass on records.arrival_rank = second_pass.node
    left join first_pass on records.arrival_rank = first_pass.node
    left join conflicted_clusters on first_pass.component = conflicted_clusters.component

),

-- conflicts strong links alone still bring together, for review
remaining_conflicted_domains as (

    select
        clustered.cluster_rank,
        work_mailboxes.email_domain
    from clustered
    inner join work_mailboxes on clustered.arrival_rank = work_mailboxes.arrival_rank
    group by clustered.cluster_rank, work_mailboxes.email_domain
    having count(distinct work_mailboxes.email_key) > 1

),

remaining_conflicts as (

    select distinct cluster_rank from remaining_conflicted_domains

),

final as (

    select
        clustered.*,
        remaining_conflicts.cluster_rank is not null as has_identity_conflict
    from clustered
    left join remaining_conflicts on clustered.cluster_rank = remaining_conflicts.cluster_rank

)

select * from final
