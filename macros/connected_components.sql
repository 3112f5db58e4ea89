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
            select node_a as node, node_b as neighbour from {{ edges }}
            union all
            select node_b as node, node_a as neighbour from {{ edges }}
        ),

        labels_0 as (
            select node, least(node, min(neighbour)) as component
            from neighbours
            group by node
        )
        {%- for round in range(1, rounds + 1) %},

        -- round {{ round }}: take the smallest label among the neighbours...
        hooked_{{ round }} as (
            select
                neighbours.node,
                least(min(own.component), min(theirs.component)) as component
            from neighbours
            inner join labels_{{ round - 1 }} as own on neighbours.node = own.node
            inner join labels_{{ round - 1 }} as theirs on neighbours.neighbour = theirs.node
            group by neighbours.node
        ),

        -- ...then jump: a node takes the label of the node its label names
        labels_{{ round }} as (
            select
                hooked.node,
                least(hooked.component, coalesce(jumped.component, hooked.component)) as component
            from hooked_{{ round }} as hooked
            left join hooked_{{ round }} as jumped on hooked.component = jumped.node
        )
        {%- endfor %}

        select node, component from labels_{{ rounds }}
    )
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
