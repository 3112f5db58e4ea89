{#-
    The incremental strategy that rewrites rows by unique key on each engine:
    delete+insert on DuckDB, merge on Spark (Delta/Iceberg tables).
-#}
{% macro incremental_strategy_for_target() %}
    {{ return('merge' if target.type == 'spark' else 'delete+insert') }}
{% endmacro %}
