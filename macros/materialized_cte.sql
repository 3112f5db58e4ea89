{#-
    `name as materialized (` where the engine can be told to compute a CTE once that later
    CTEs read many times (DuckDB), plain `name as (` elsewhere. Use as
    `{{ materialized_cte('name') }} ... )` in place of `name as ( ... )`. On Spark the CTE
    is marked, and a model whose chain is wrapped in cte_steps writes it as a table of
    its own (Spark would inline it wherever it is read).
-#}
{% macro materialized_cte(name) %}
    {{ return(adapter.dispatch('materialized_cte', 'contact_enrichment')(name)) }}
{% endmacro %}

{% macro default__materialized_cte(name) %}
    {{ name }} as (
{%- endmacro %}

{% macro duckdb__materialized_cte(name) %}
    {{ name }} as materialized (
{%- endmacro %}

{% macro spark__materialized_cte(name) %}
    /*step:{{ name }}*/ {{ name }} as (
{%- endmacro %}
