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
    {#- before the relation exists (a compile on a fresh warehouse): every column -#}
    {{ return(names | join(', ') if names else '*') }}
{% endmacro %}
