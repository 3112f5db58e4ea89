-- Clustering: one row per record with the cluster it belongs to. Clusters are the
-- connected components of the matched pairs (connected_components macro), with one
-- safeguard: a cluster that would hold two records no pair could merge (two personal
-- mailboxes at one company domain, two dates of birth, two first names that are not one
-- name's forms: the guards of deduped_pair_scores) keeps only its strong links (same
-- mailbox, same personal number) and is split along them, so a weak link (an initial and
-- a surname) never chains a household or two colleagues into one contact. A conflict that
-- strong links alone make is kept and flagged (has_identity_conflict) for review. A cluster is
-- identified by its earliest record (arrival_rank: the file's modification time, then
-- file path and row: the data's own order, not the load's clock, so the same files give
-- the same contacts and ids however and whenever they are loaded).

-- depends_on: {{ ref('deduped_match_weights') }}

{#- two records that no pair could merge: see conflicted_clusters -#}
{%- set conflict -%}
(
    {{ "true" if "two_mailboxes_at_one_domain" in var('dedupe_guards') else "false" }}
    and record_a.email_domain = record_b.email_domain
    and record_a.personal_work_mailbox <> record_b.personal_work_mailbox
)
or (
    {{ "true" if "different_birth_dates" in var('dedupe_guards') else "false" }}
    and guard_switches.birth_dates_guard
    -- at least two of year, month and day differ (one is a typo)
    and (
        case when year(record_a.date_of_birth) <> year(record_b.date_of_birth) then 1 else 0 end
        + case when month(record_a.date_of_birth) <> month(record_b.date_of_birth) then 1 else 0 end
        + case when day(record_a.date_of_birth) <> day(record_b.date_of_birth) then 1 else 0 end
    ) >= 2
)
or (
    {{ "true" if "different_first_names" in var('dedupe_guards') else "false" }}
    and guard_switches.first_names_guard
    and length(record_a.first_name_key) > 1
    and length(record_b.first_name_key) > 1
    and {{ name_similarity('record_a.first_name_key', 'record_b.first_name_key') }}
    < {{ var('dedupe_name_similarity_low') }}
    and not (
        record_a.first_name_key = record_b.last_name_key
        and coalesce(record_a.last_name_key = record_b.first_name_key, false)
    )
)
{%- endset %}

with

records as (

    select
        contact_record_id,
        email_key,
        email_domain,
        is_work_email,
        first_name_key,
        last_name_key,
        date_of_birth,
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

-- the guards of deduped_pair_scores, switched on as they are there
guard_switches as (

    {{ dedupe_guard_switches() }}

),

clustered_records as (

    select
        first_pass.component,
        records.*,
        case
            when records.is_work_email and shared_emails.email_key is null then records.email_key
        end as personal_work_mailbox
    from first_pass
    inner join records on first_pass.node = records.arrival_rank
    left join shared_emails on records.email_key = shared_emails.email_key

),

-- two records in one cluster that no pair could merge: two personal mailboxes at one
-- company domain, two dates of birth, two first names that are not one name's forms
-- (each as the guards of deduped_pair_scores hold). A chain of weak links (an initial, a
-- shared surname and city) must not join them through a third record
conflicted_clusters as (

    select distinct record_a.component
    from clustered_records as record_a
    inner join clustered_records as record_b
        on record_a.component = record_b.component and record_a.arrival_rank < record_b.arrival_rank
    cross join guard_switches
    where
        {{ conflict }}

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
final_records as (

    select
        clustered.cluster_rank as component,
        clustered_records.arrival_rank,
        clustered_records.email_domain,
        clustered_records.personal_work_mailbox,
        clustered_records.date_of_birth,
        clustered_records.first_name_key,
        clustered_records.last_name_key
    from clustered
    inner join clustered_records on clustered.arrival_rank = clustered_records.arrival_rank

),

remaining_conflicts as (

    select distinct record_a.component as cluster_rank
    from final_records as record_a
    inner join final_records as record_b
        on record_a.component = record_b.component and record_a.arrival_rank < record_b.arrival_rank
    cross join guard_switches
    where
        {{ conflict }}

),

final as (

    select
        clustered.*,
        remaining_conflicts.cluster_rank is not null as has_identity_conflict
    from clustered
    left join remaining_conflicts on clustered.cluster_rank = remaining_conflicts.cluster_rank

)

select * from final
