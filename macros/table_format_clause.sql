{#-
    The storage clause of a table the project creates itself (the audit table, the
    reviewers' decisions, the segment membership log): nothing on DuckDB; on Spark
    `using <spark_file_format>` (parquet by default, as the models: see dbt_project.yml).
-#}
{% macro table_format_clause() %}
    {{ return(adapter.dispatch('table_format_clause', 'contact_enrichment')()) }}
{% endmacro %}

{% macro default__table_format_clause() %}{% endmacro %}

{% macro spark__table_format_clause() -%}
    using {{ var('spark_file_format', 'parquet') }}
{%- endmacro %}
