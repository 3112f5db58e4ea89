-- Clustering: one row per record with the cluster it belongs to. Clusters are the
-- connected components of the matched pairs (connected_components macro), with the
-- reviewers' decisions (stg_review__merge_decisions) and one safeguard:
--
-- * a must_link decision is a link no guard breaks; a cannot_link decision removes the
--   pair's own link;
-- * a cluster that would hold two records no pair could merge (two personal mailboxes at
--   one company domain, two dates of birth, two first names that are not one name's
--   forms: the guards of deduped_pair_scores), or two records a reviewer keeps apart,
--   is split: its records start in the groups their strong links (same mailbox, same
--   personal number) and decided links make, and the groups join along the weak links,
--   strongest first, never two that would hold a conflict (conflict_free_groups), so a
--   weak link (an initial and a surname) never chains a household or two colleagues into
--   one contact, and each record stays with the side it is most like;
-- * where strong links still join two records a reviewer keeps apart, those records lose
--   every link but the decided ones (a family mailbox is no proof of one person).
--
-- A conflict that strong links alone make is kept and flagged (has_identity_conflict) for
-- review, as are decisions that contradict each other (a chain of must_link between two
-- cannot_link records). Each record carries the link that holds it in its cluster (its
-- strongest: a decision, then a strong link, then the highest match weight), which
-- contact_identity_map shows as why the record joined its contact. A cluster is
-- identified by its earliest record (arrival_rank: the file's modification time, then
-- file path and row: the data's own order, not the load's clock, so the same files give
-- the same contacts and ids however and whenever they are loaded).

-- depends_on: {{ ref('deduped_match_weights') }}

{#- on Spark the steps' tables go once the model is written (cte_steps) -#}
{{ config(post_hook="{{ drop_step_tables() }}") }}

{#- two records of one cluster that no pair could merge (a guard of deduped_pair_scores
    holds between them), on a row of dedupe_guarded_pairs -#}
{%- set conflict = dedupe_guard(records=true) ~ " is not null" %}

{#- the query, below; on Spark its CTEs marked materialized are written one at a time (cte_steps) -#}
{% set clustering %}

with

{{ materialized_cte('records') }}

    select
        contact_record_id,
        email_key,
        email_domain,
        is_work_email,
        phone_key,
        given_name_key,
        first_name_key,
        first_initial,
        last_name_key,
        last_initial,
        date_of_birth,
        {{ source_record_key('source_system', 'source_record_id', 'contact_record_id') }} as source_record_key,
        row_number() over (
            order by source_file_modified_at, source_file_path, source_row_number, contact_record_id
        ) as arrival_rank
    from {{ ref('deduped_match_records') }}

),

matches as (

    select record_id_a, record_id_b, is_strong_link, match_weight
    from {{ ref('deduped_pair_scores') }}
    where is_match

),

-- the reviewers' decisions, on every record of each key (each export of a CRM record)
decided_pairs as (

    select
        decisions.decision,
        least(records_a.arrival_rank, records_b.arrival_rank) as node_a,
        greatest(records_a.arrival_rank, records_b.arrival_rank) as node_b
    from {{ ref('stg_review__merge_decisions') }} as decisions
    inner join records as records_a on decisions.source_record_key_a = records_a.source_record_key
    inner join records as records_b on decisions.source_record_key_b = records_b.source_record_key
    where decisions.decision in ('must_link', 'cannot_link')

),

cannot_pairs as (

    select node_a, node_b from decided_pairs where decision = 'cannot_link'

),

cannot_records as (

    select node_a as node from cannot_pairs
    union
    select node_b from cannot_pairs

),

scored_edges as (

    select
        least(ranks_a.arrival_rank, ranks_b.arrival_rank) as node_a,
        greatest(ranks_a.arrival_rank, ranks_b.arrival_rank) as node_b,
        matches.is_strong_link,
        matches.match_weight
    from matches
    inner join records as ranks_a on matches.record_id_a = ranks_a.contact_record_id
    inner join records as ranks_b on matches.record_id_b = ranks_b.contact_record_id

),

-- the records of matches a reviewer undid
undone_records as (

    select cannot_pairs.node_a as node
    from cannot_pairs
    inner join scored_edges on cannot_pairs.node_a = scored_edges.node_a and cannot_pairs.node_b = scored_edges.node_b
    union
    select cannot_pairs.node_b
    from cannot_pairs
    inner join scored_edges on cannot_pairs.node_a = scored_edges.node_a and cannot_pairs.node_b = scored_edges.node_b

),

-- the matches but those a reviewer undid, and the links a reviewer made
{{ materialized_cte('match_edges') }}

    select
        scored_edges.node_a,
        scored_edges.node_b,
        scored_edges.is_strong_link,
        false as is_decided,
        scored_edges.match_weight
    from scored_edges
    left join cannot_pairs
        on scored_edges.node_a = cannot_pairs.node_a and scored_edges.node_b = cannot_pairs.node_b
    where cannot_pairs.node_a is null

    union all

    select
        node_a,
        node_b,
        true as is_strong_link,
        true as is_decided,
        cast(null as double) as match_weight
    from decided_pairs
    where decision = 'must_link'

),

{{ materialized_cte('first_pass') }}

    select * from {{ connected_components('match_edges') }} as components

),

-- mailboxes and numbers several people use (info@, a switchboard) are no evidence
shared_values as (

    select value_type, value_key
    from {{ ref('deduped_value_frequencies') }}
    where value_type in ('email', 'phone') and is_shared

),

-- the guards of deduped_pair_scores, switched on as they are there
guard_switches as (

    {{ dedupe_guard_switches() }}

),

-- the records of the first pass's clusters, as the guards compare them
{{ materialized_cte('clustered_records') }}

    select
        first_pass.component,
        records.arrival_rank,
        case when shared_emails.value_key is null then records.email_key end as email_key,
        records.email_domain,
        records.is_work_email,
        case when shared_phones.value_key is null then records.phone_key end as phone_key,
        records.given_name_key,
        records.first_name_key,
        records.first_initial,
        records.last_name_key,
        records.last_initial,
        records.date_of_birth
    from first_pass
    inner join records on first_pass.node = records.arrival_rank
    left join shared_values as shared_emails
        on shared_emails.value_type = 'email' and records.email_key = shared_emails.value_key
    left join shared_values as shared_phones
        on shared_phones.value_type = 'phone' and records.phone_key = shared_phones.value_key

),

-- two records a reviewer keeps apart, in one cluster
decided_conflicts as (

    {{ components_holding_pairs('cannot_pairs', 'first_pass') }}

),

-- every two records of a first-pass cluster, with the levels the guards read
first_pass_pairs as (

    {{ dedupe_guarded_pairs('clustered_records', 'component') }}

),

-- two records of one first-pass cluster that no pair could merge: two personal mailboxes
-- at one company domain, two dates of birth, two first names that are not one name's
-- forms (each as the guards of deduped_pair_scores hold)
{{ materialized_cte('guarded_pairs') }}

    select component, node_a, node_b
    from first_pass_pairs
    where {{ conflict }}

),

-- clusters holding such records, or two a reviewer keeps apart: a chain of weak links
-- (an initial, a shared surname and city) must not join them through a third record
conflicted_clusters as (

    select component from guarded_pairs

    union

    select component from decided_conflicts

),

-- the strong links of those clusters, and the groups of records they tie together
{{ materialized_cte('strong_edges') }}

    select match_edges.*
    from match_edges
    inner join first_pass on match_edges.node_a = first_pass.node
    inner join conflicted_clusters on first_pass.component = conflicted_clusters.component
    where match_edges.is_strong_link

),

{{ materialized_cte('strong_groups') }}

    select * from {{ connected_components('strong_edges') }} as components

),

-- the pairs those clusters must keep apart: the two records of a guard, of a
-- cannot_link decision
conflict_pairs as (

    select node_a, node_b from guarded_pairs

    union

    select node_a, node_b from cannot_pairs

),

-- each record of those clusters starts in the group its strong links make...
conflicted_records as (

    select
        first_pass.node,
        coalesce(strong_groups.component, first_pass.node) as group_id
    from first_pass
    inner join conflicted_clusters on first_pass.component = conflicted_clusters.component
    left join strong_groups on first_pass.node = strong_groups.node

),

conflicted_weak_edges as (

    select match_edges.node_a, match_edges.node_b, match_edges.match_weight
    from match_edges
    inner join conflicted_records on match_edges.node_a = conflicted_records.node
    where not match_edges.is_strong_link

),

-- ...and the groups join along their weak links, strongest first, as long as no
-- conflict ends up inside one (conflict_free_groups macro)
{{ materialized_cte('resolved_groups') }}

    select * from {{ conflict_free_groups('conflicted_records', 'conflicted_weak_edges', 'conflict_pairs',
                                          var('dedupe_conflict_rounds') | int) }} as conflict_free

),

{{ materialized_cte('trusted_edges') }}

    select match_edges.*
    from match_edges
    left join first_pass on match_edges.node_a = first_pass.node
    left join conflicted_clusters on first_pass.component = conflicted_clusters.component
    left join resolved_groups as groups_a on match_edges.node_a = groups_a.node
    left join resolved_groups as groups_b on match_edges.node_b = groups_b.node
    where
        match_edges.is_strong_link
        or conflicted_clusters.component is null
        or groups_a.group_id = groups_b.group_id

),

{{ materialized_cte('second_pass') }}

    select * from {{ connected_components('trusted_edges') }} as components

),

-- clusters where strong links still join two records a reviewer keeps apart: those
-- records keep only their decided links there
undecided_clusters as (

    {{ components_holding_pairs('cannot_pairs', 'second_pass') }}

),

split_edges as (

    select trusted_edges.*
    from trusted_edges
    inner join second_pass on trusted_edges.node_a = second_pass.node
    inner join undecided_clusters on second_pass.component = undecided_clusters.component
    left join cannot_records as cannot_a on trusted_edges.node_a = cannot_a.node
    left join cannot_records as cannot_b on trusted_edges.node_b = cannot_b.node
    where trusted_edges.is_decided or (cannot_a.node is null and cannot_b.node is null)

),

{{ materialized_cte('third_pass') }}

    select * from {{ connected_components('split_edges') }} as components

),

{{ materialized_cte('clustered') }}

    select
        records.contact_record_id,
        records.arrival_rank,
        case
            when undecided_clusters.component is not null then coalesce(third_pass.component, records.arrival_rank)
            else coalesce(second_pass.component, records.arrival_rank)
        end as cluster_rank,
        conflicted_clusters.component is not null as was_split_on_conflict,
        decided_conflicts.component is not null or undone_records.node is not null as was_split_on_decision
    from records
    left join second_pass on records.arrival_rank = second_pass.node
    left join undecided_clusters on second_pass.component = undecided_clusters.component
    left join third_pass on records.arrival_rank = third_pass.node
    left join first_pass on records.arrival_rank = first_pass.node
    left join conflicted_clusters on first_pass.component = conflicted_clusters.component
    left join decided_conflicts on first_pass.component = decided_conflicts.component
    left join undone_records on records.arrival_rank = undone_records.node

),

final_records as (

    select
        clustered.cluster_rank,
        clustered_records.arrival_rank,
        clustered_records.email_key,
        clustered_records.email_domain,
        clustered_records.is_work_email,
        clustered_records.phone_key,
        clustered_records.given_name_key,
        clustered_records.first_name_key,
        clustered_records.first_initial,
        clustered_records.last_name_key,
        clustered_records.last_initial,
        clustered_records.date_of_birth
    from clustered
    inner join clustered_records on clustered.arrival_rank = clustered_records.arrival_rank

),

final_pairs as (

    {{ dedupe_guarded_pairs('final_records', 'cluster_rank') }}

),

remaining_conflicts as (

    select distinct cluster_rank
    from final_pairs
    where {{ conflict }}

    union

    -- decisions that contradict each other: must_link chains two cannot_link records
    select clustered_a.cluster_rank
    from cannot_pairs
    inner join clustered as clustered_a on cannot_pairs.node_a = clustered_a.arrival_rank
    inner join clustered as clustered_b on cannot_pairs.node_b = clustered_b.arrival_rank
    where clustered_a.cluster_rank = clustered_b.cluster_rank

),

-- the link that holds each record in its cluster: a decision, a strong link, the highest
-- match weight (then the earliest partner)
links as (

    select
        ends.node,
        ends.linked_node,
        ends.is_decided,
        ends.is_strong_link,
        ends.match_weight,
        row_number() over (
            partition by ends.node
            order by
                case when ends.is_decided then 0 else 1 end,
                case when ends.is_strong_link then 0 else 1 end,
                ends.match_weight desc,
                ends.linked_node
        ) as strength_rank
    from (
        select node_a as node, node_b as linked_node, is_decided, is_strong_link, match_weight from trusted_edges
        union all
        select node_b as node, node_a as linked_node, is_decided, is_strong_link, match_weight from trusted_edges
    ) as ends
    inner join clustered as own on ends.node = own.arrival_rank
    inner join clustered as theirs on ends.linked_node = theirs.arrival_rank
    where own.cluster_rank = theirs.cluster_rank

),

final as (

    select
        clustered.*,
        remaining_conflicts.cluster_rank is not null as has_identity_conflict,
        linked.contact_record_id as linked_record_id,
        case
            when links.is_decided then 'must_link'
            when links.is_strong_link then 'strong_link'
            when links.node is not null then 'match'
        end as link_kind
    from clustered
    left join remaining_conflicts on clustered.cluster_rank = remaining_conflicts.cluster_rank
    left join links on clustered.arrival_rank = links.node and links.strength_rank = 1
    left join clustered as linked on links.linked_node = linked.arrival_rank

)

select * from final

{% endset %}

{{ cte_steps(clustering) }}
