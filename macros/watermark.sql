{#-
    The high-water mark of an incremental model: the largest value of `column` already in
    {{ this }}, or 1900-01-01 when the table is empty, so that `where x > watermark(...)`
    selects everything then instead of nothing. `where` narrows the rows it looks at.
-#}
{% macro watermark(column, where='1 = 1') -%}
    (select coalesce(max(already_built.{{ column }}), cast('1900-01-01' as timestamp)) from {{ this }} as already_built where {{ where }})
{%- endmacro %}
