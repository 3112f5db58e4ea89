{#-
    The sha256 of a text value as 64 lower-case hex digits: how suppression lists hold
    e-mail addresses without holding the addresses. Dispatched: DuckDB's sha256, Spark's sha2.
-#}
{% macro sha256_hex(column) %}
    {{ return(adapter.dispatch('sha256_hex', 'contact_enrichment')(column)) }}
{% endmacro %}

{% macro default__sha256_hex(column) %}
    sha256({{ column }})
{% endmacro %}

{% macro spark__sha256_hex(column) %}
    sha2({{ column }}, 256)
{% endmacro %}
