{#-
    One value of a JSON text column, as text: `path` is a JSONPath such as
    '$.data.job_title' or '$.data.job_title_levels[0]'. Null when the path is absent.
    Dispatched: DuckDB's json_extract_string, Spark's get_json_object.
-#}
{% macro json_text(column, path) %}
    {{ return(adapter.dispatch('json_text', 'contact_enrichment')(column, path)) }}
{% endmacro %}

{% macro default__json_text(column, path) %}
    json_extract_string({{ column }}, '{{ path }}')
{% endmacro %}

{% macro spark__json_text(column, path) %}
    get_json_object({{ column }}, '{{ path }}')
{% endmacro %}
