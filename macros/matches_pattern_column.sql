{#-
    True when the whole text matches a regular expression held in another column (a
    per-row pattern, e.g. from a seed). Dispatched like `matches_pattern`.
-#}
{% macro matches_pattern_column(column, pattern_column) %}
    {{ return(adapter.dispatch('matches_pattern_column', 'contact_enrichment')(column, pattern_column)) }}
{% endmacro %}

{% macro default__matches_pattern_column(column, pattern_column) %}
    regexp_full_match({{ column }}, {{ pattern_column }})
{% endmacro %}

{% macro spark__matches_pattern_column(column, pattern_column) %}
    ({{ column }} rlike concat('^(?:', {{ pattern_column }}, ')$'))
{% endmacro %}
