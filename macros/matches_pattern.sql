{#-
    True when the whole text matches the regular expression (anchors added here).
    Dispatched: DuckDB's regexp_full_match; Spark's rlike with ^...$. Use [0-9] rather
    than \d in patterns: Spark reads '\d' as 'd'.
-#}
{% macro matches_pattern(column, pattern) %}
    {{ return(adapter.dispatch('matches_pattern', 'contact_enrichment')(column, pattern)) }}
{% endmacro %}

{% macro default__matches_pattern(column, pattern) %}
    regexp_full_match({{ column }}, '{{ pattern }}')
{% endmacro %}

{% macro spark__matches_pattern(column, pattern) %}
    ({{ column }} rlike '^(?:{{ pattern }})$')
{% endmacro %}
