{#-
    Models land in the schema their layer names (`staging`, `cleaned`, ...) rather than
    dbt's default `<target schema>_<custom schema>`, so analysts find `staging.stg_...`
    in the warehouse. Models without a custom schema use the target schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
