{#-
    Similarity of two names between 0 (nothing alike) and 1 (equal). Dispatched: DuckDB's
    Jaro-Winkler, which forgives typos near the end of a name; on Spark the same function
    computed the same way (duckdb_jaro_winkler, registered by batch/spark_functions.py:
    Spark's own jaro_winkler_similarity works on characters, not bytes, and boosts every
    score, which moves some pairs across a level and with them the estimated weights);
    engines without either get 1 - Levenshtein distance / length of the longer name.
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
    duckdb_jaro_winkler({{ left }}, {{ right }})
{% endmacro %}
