{#-
    The suppression list's keyed hash of an address: HMAC-SHA256 of the lower-cased,
    trimmed address with the project's secret key, as 64 hex digits. The loader and
    `forget` store addresses the project hashes this way (a plain sha256 could be
    reversed by hashing a list of likely addresses). Computed by the Python function
    email_hmac (batch/duckdb_functions.py), which reads the key (the `normalised` macro:
    on an engine whose session the project does not own, looked up in a table).
-#}
{% macro keyed_email_hash(column) %}
    {{ return(adapter.dispatch('keyed_email_hash', 'contact_enrichment')(column)) }}
{% endmacro %}

{% macro default__keyed_email_hash(column) %}
    {{ normalised('email_hmac', [column]) }}
{% endmacro %}
