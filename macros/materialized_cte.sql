{#-
    `name as materialized (` where the engine can be told to compute a CTE once that later
    CTEs read many times (DuckDB), plain `name as (` elsewhere. Use as
    `{{ materialized_cte('name') }} ... )` in place of `name as ( ... )`.
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
