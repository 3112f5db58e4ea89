{#-
    The "now" that enrichment freshness counts from: the enrichment_as_of var ('YYYY-MM-DD')
    when set (tests, back-fills), else the current timestamp.
-#}
{% macro enrichment_as_of() -%}
    {%- if var('enrichment_as_of') -%}
        cast('{{ var("enrichment_as_of") }}' as timestamp)
    {%- else -%}
        {{ dbt.current_timestamp() }}
    {%- endif -%}
{%- endmacro %}
