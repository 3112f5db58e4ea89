{#-
    Replace every match of a regular expression. Dispatched because DuckDB's
    regexp_replace replaces only the first match unless given the 'g' option, while
    Spark's replaces all. Prefer character classes ([0-9], ' ') to backslash escapes,
    which Spark string literals eat.
-#}
{% macro regexp_replace_all(column, pattern, replacement) %}
    {{ return(adapter.dispatch('regexp_replace_all', 'contact_enrichment')(column, pattern, replacement)) }}
{% endmacro %}

{% macro default__regexp_replace_all(column, pattern, replacement) %}
    regexp_replace({{ column }}, '{{ pattern }}', '{{ replacement }}', 'g')
{% endmacro %}

{% macro spark__regexp_replace_all(column, pattern, replacement) %}
    regexp_replace({{ column }}, '{{ pattern }}', '{{ replacement }}')
{% endmacro %}
