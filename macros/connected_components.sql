{#-
    Connected components of an undirected graph: a subquery with one row per node that has
    an edge, `node` and `component`, where `component` is the smallest node of its
    component. `edges` names a relation (or CTE) with integer columns `node_a`, `node_b`.

    Dispatched. `default__` is plain SQL any engine runs: a fixed number of rounds of
    min-label propagation with pointer jumping (the var dedupe_clustering_rounds, each
    round at least doubling how far labels travel); the data test
    edges_within_one_component fails if that was not enough. `duckdb__` is one recursive
    query that runs to convergence (DuckDB's `USING KEY` recursion); set the var
    dedupe_clustering_method to `iterative` to run the plain path on DuckDB.
-#}
{% macro connected_components(edges) %}
    {{ return(adapter.dispatch('connected_components', 'contact_enrichment')(edges)) }}
{% endmacro %}

{% macro default__connected_components(edges) %}
    {%- set rounds = var('dedupe_clustering_rounds') | int %}
    (
        with

        neighbours as (
            {{ components_neighbours(edges) }}
        ),

        labels_0 as (
            {{ components_start('neighbours') }}
        )
        {%- for round in range(1, rounds + 1) %},

        -- round {{ round }}: take the smallest label among the neighbours...
        hooked_{{ round }} as (
            {{ components_hook('neighbours', 'labels_' ~ (round - 1)) }}
        ),

        -- ...then jump: a node takes the label of the node its label names
        labels_{{ round }} as (
            {{ components_jump('hooked_' ~ round) }}
        )
        {%- endfor %}

        select node, component from labels_{{ rounds }}
    )
{% endmacro %}

{#- Spark: the same rounds, each a table, run by cte_steps until no label changes -#}
{% macro spark__connected_components(edges) %}
    /*rounds:components:{{ edges }}:begin*/ {{ default__connected_components(edges) }} /*rounds:end*/
{% endmacro %}

{#- the steps of connected components' label propagation, each a select -#}
{% macro components_neighbours(edges) %}
    select node_a as node, node_b as neighbour from {{ edges }}
    union all
    select node_b as node, node_a as neighbour from {{ edges }}
{% endmacro %}

{% macro components_start(neighbours) %}
    select node, least(node, min(neighbour)) as component
    from {{ neighbours }}
    group by node
{% endmacro %}

{% macro components_hook(neighbours, labels) %}
    select
        neighbours.node,
        least(min(own.component), min(theirs.component)) as component
    from {{ neighbours }} as neighbours
    inner join {{ labels }} as own on neighbours.node = own.node
    inner join {{ labels }} as theirs on neighbours.neighbour = theirs.node
    group by neighbours.node
{% endmacro %}

{% macro components_jump(hooked) %}
    select
        hooked.node,
        least(hooked.component, coalesce(jumped.component, hooked.component)) as component
    from {{ hooked }} as hooked
    left join {{ hooked }} as jumped on hooked.component = jumped.node
{% endmacro %}

{% macro duckdb__connected_components(edges) %}
    {%- if var('dedupe_clustering_method') == 'iterative' %}
    {{ return(default__connected_components(edges)) }}
    {%- endif %}
    (
        with recursive

        neighbours as (
            select node_a as node, node_b as neighbour from {{ edges }}
            union all
            select node_b as node, node_a as neighbour from {{ edges }}
        ),

        -- every node starts as its own label; a node's label drops whenever a neighbour
        -- offers a smaller one, until no label changes
        labels (node, component) using key (node) as (
            select node, node as component
            from neighbours
            group by node
            union
            select
                neighbours.neighbour as node,
                min(labels.component) as component
            from labels
            inner join neighbours on labels.node = neighbours.node
            left join recurring.labels as known on neighbours.neighbour = known.node
            group by neighbours.neighbour
            having min(labels.component) < min(known.component)
        )

        select node, component from labels
    )
{% endmacro %}

{#-
    The components of `labels` (a relation with `node` and `component`, as
    connected_components gives) that hold both nodes of some pair of `pairs` (a relation
    with `node_a` and `node_b`): a select of distinct `component`.
-#}
{% macro components_holding_pairs(pairs, labels) %}
    select distinct labels_a.component
    from {{ pairs }}
    inner join {{ labels }} as labels_a on {{ pairs }}.node_a = labels_a.node
    inner join {{ labels }} as labels_b on {{ pairs }}.node_b = labels_b.node
    where labels_a.component = labels_b.component
{% endmacro %}

{#-
    Groups of records that keep apart every pair of `conflicts`, built from weighted
    links the way a person would: the strongest link first, never one that would put two
    conflicting records together. A subquery with one row per node of `groups`, `node`
    and `group_id` (the smallest node of its group).

    `groups` (`node`, `group_id`): where each node starts (records that strong links tie
    together start as one group); `edges` (`node_a`, `node_b`, `match_weight`): the weak
    links; `conflicts` (`node_a`, `node_b`): the pairs that must stay apart. In each of
    `rounds` rounds every group picks its strongest link to a group it holds no conflict
    with (ties: the smaller group), and two groups that picked each other merge. Merges
    are pairwise, so a merged group holds no conflict its two halves did not; the
    strongest remaining link is always picked from both ends, so every round merges at
    least once where a link is left. A link still untaken after the last round leaves
    its groups apart (a split too many, never a merge too many). Plain SQL, every engine.
-#}
{% macro conflict_free_groups(groups, edges, conflicts, rounds) %}
    {%- if target.type == 'spark' %}
    /*rounds:conflict_free:{{ groups }}|{{ edges }}|{{ conflicts }}|{{ rounds }}:begin*/
    {%- endif %}
    (
        with

        {{ materialized_cte('groups_0') }}
            select node, group_id from {{ groups }}
        )
        {%- for round in range(1, rounds + 1) %},
        {{ conflict_free_round(edges, conflicts, round) }}
        {%- endfor %}

        select node, group_id from groups_{{ rounds }}
    )
    {%- if target.type == 'spark' %} /*rounds:end*/{% endif %}
{% endmacro %}

{#- round `round` of conflict_free_groups: CTEs from groups_<round - 1> to groups_<round> -#}
{% macro conflict_free_round(edges, conflicts, round) %}

        -- round {{ round }}: the strongest link between each two groups...
        links_{{ round }} as (
            select
                least(groups_a.group_id, groups_b.group_id) as group_a,
                greatest(groups_a.group_id, groups_b.group_id) as group_b,
                max(edges.match_weight) as link_weight
            from {{ edges }} as edges
            inner join groups_{{ round - 1 }} as groups_a on edges.node_a = groups_a.node
            inner join groups_{{ round - 1 }} as groups_b on edges.node_b = groups_b.node
            where groups_a.group_id <> groups_b.group_id
            group by
                least(groups_a.group_id, groups_b.group_id),
                greatest(groups_a.group_id, groups_b.group_id)
        ),

        -- ...but two groups holding records that must stay apart
        apart_{{ round }} as (
            select distinct
                least(groups_a.group_id, groups_b.group_id) as group_a,
                greatest(groups_a.group_id, groups_b.group_id) as group_b
            from {{ conflicts }} as conflicts
            inner join groups_{{ round - 1 }} as groups_a on conflicts.node_a = groups_a.node
            inner join groups_{{ round - 1 }} as groups_b on conflicts.node_b = groups_b.node
        ),

        allowed_{{ round }} as (
            select links.group_a, links.group_b, links.link_weight
            from links_{{ round }} as links
            left join apart_{{ round }} as apart
                on links.group_a = apart.group_a and links.group_b = apart.group_b
            where apart.group_a is null
        ),

        -- each group's strongest allowed link
        {{ materialized_cte('picks_' ~ round) }}
            select group_id, partner_id
            from (
                select
                    ends.group_id,
                    ends.partner_id,
                    row_number() over (
                        partition by ends.group_id order by ends.link_weight desc, ends.partner_id
                    ) as pick_rank
                from (
                    select group_a as group_id, group_b as partner_id, link_weight from allowed_{{ round }}
                    union all
                    select group_b as group_id, group_a as partner_id, link_weight from allowed_{{ round }}
                ) as ends
            ) as ranked
            where pick_rank = 1
        ),

        -- two groups that picked each other merge, under the smaller id
        merges_{{ round }} as (
            select picks.group_id, least(picks.group_id, picks.partner_id) as merged_id
            from picks_{{ round }} as picks
            inner join picks_{{ round }} as partners
                on picks.partner_id = partners.group_id and picks.group_id = partners.partner_id
        ),

        {{ materialized_cte('groups_' ~ round) }}
            select
                members.node,
                coalesce(pairings.merged_id, members.group_id) as group_id
            from groups_{{ round - 1 }} as members
            left join merges_{{ round }} as pairings on members.group_id = pairings.group_id
        )
{% endmacro %}
