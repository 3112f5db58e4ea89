{#-
    Aggregates a text column into one sorted, comma-separated string of its distinct
    values ("email,phone"). Dispatched: DuckDB's ordered string_agg, Spark's collect_set.
-#}
{% macro string_list_agg(column) %}
    {{ return(adapter.dispatch('string_list_agg', 'contact_enrichment')(column)) }}
{% endmacro %}

{% macro default__string_list_agg(column) %}
    string_agg(distinct {{ column }}, ',' order by {{ column }})
{% endmacro %}

{% macro spark__string_list_agg(column) %}
    array_join(sort_array(collect_set({{ column }})), ',')
{% endmacro %}
