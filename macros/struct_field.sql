{#-
    One field of a struct value (the structs the Python functions return). Dispatched:
    DuckDB's struct_extract, Spark's dot notation.
-#}
{% macro struct_field(column, field) %}
    {{ return(adapter.dispatch('struct_field', 'contact_enrichment')(column, field)) }}
{% endmacro %}

{% macro default__struct_field(column, field) %}
    struct_extract({{ column }}, '{{ field }}')
{% endmacro %}

{% macro spark__struct_field(column, field) %}
    {{ column }}.{{ field }}
{% endmacro %}
