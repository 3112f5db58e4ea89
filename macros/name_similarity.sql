{#-
    Similarity of two names between 0 (nothing alike) and 1 (equal). Dispatched: DuckDB's
    and Spark's (4.3 and later) Jaro-Winkler, which forgives typos near the end of a name;
    engines without it get 1 - Levenshtein distance / length of the longer name. The two
    engines' Jaro-Winkler scores differ in places (their implementations): the thresholds
    (dedupe_name_similarity) sit away from where that changes a decision.
-#}
{% macro name_similarity(left, right) %}
    {{ return(adapter.dispatch('name_similarity', 'contact_enrichment')(left, right)) }}
{% endmacro %}

{% macro default__name_similarity(left, right) %}
    (1.0 - levenshtein({{ left }}, {{ right }}) / greatest(length({{ left }}), length({{ right }})))
{% endmacro %}

{% macro duckdb__name_similarity(left, right) %}
    jaro_winkler_similarity({{ left }}, {{ right }})
{% endmacro %}

{% macro spark__name_similarity(left, right) %}
    jaro_winkler_similarity({{ left }}, {{ right }})
{% endmacro %}
