{#-
    Phone text -> struct(e164, is_valid, number_type) by libphonenumber's rules, reading
    national numbers in `default_region` (ISO 3166-1 alpha-2). On DuckDB this calls the
    `phone_parse` Python function that ingestion/duckdb_functions.py registers through
    dbt-duckdb's plugin (see profiles/profiles.yml). Other engines need the same function
    registered as a UDF (e.g. a Spark Python UDF over the `phonenumbers` package).
-#}
{% macro phone_parse(column, default_region) %}
    {{ return(adapter.dispatch('phone_parse', 'contact_enrichment')(column, default_region)) }}
{% endmacro %}

{% macro default__phone_parse(column, default_region) %}
    phone_parse({{ column }}, {{ default_region }})
{% endmacro %}
