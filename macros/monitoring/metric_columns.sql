{#-
    The four columns of a pipeline_metrics row: the group and name (text), the dimension
    and the value (SQL expressions). One line per metric keeps the model readable:
        select {{ metric_columns('volume', 'rows', "'cleaned'", 'count(*)') }} from cleaned
-#}
{% macro metric_columns(metric_group, metric_name, dimension, value) -%}
    '{{ metric_group }}' as metric_group,
    '{{ metric_name }}' as metric_name,
    {{ dimension }} as dimension,
    {{ value }} as metric_value
{%- endmacro %}
