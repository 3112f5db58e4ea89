{#-
    The columns of a relation, comma-separated, without the ones in `except` (what
    dbt_utils.star does): a portable `select * except (...)`.
-#}
{% macro star_except(relation, except) %}
    {%- if not execute -%}
        {{ return('*') }}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- if column.name | lower not in except | map('lower') | list -%}
            {%- do names.append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names | join(', ')) }}
{% endmacro %}
