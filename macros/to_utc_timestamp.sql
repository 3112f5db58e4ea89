{#-
    A time-zone-aware timestamp -> plain timestamp in UTC, whatever the session time zone.
    dlt writes load times as TIMESTAMP WITH TIME ZONE on DuckDB; Spark timestamps are already plain.
-#}
{% macro to_utc_timestamp(column) %}
    {{ return(adapter.dispatch('to_utc_timestamp', 'contact_enrichment')(column)) }}
{% endmacro %}

{% macro default__to_utc_timestamp(column) %}
    cast({{ column }} as timestamp)
{% endmacro %}

{% macro duckdb__to_utc_timestamp(column) %}
    timezone('UTC', {{ column }})
{% endmacro %}
