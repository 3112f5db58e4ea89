{#-
    Seeds on Spark in session mode. dbt-spark's loader binds every value that is not a
    number as '{value}': an apostrophe in a seed breaks the statement and an empty cell
    becomes the text 'None' (dbt-labs/dbt-spark#901). This one writes each value as a SQL
    literal itself: null for an empty cell, quotes and backslashes escaped. It overrides
    dbt-spark's through the `dispatch` setting in dbt_project.yml.
-#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set batch_size = get_batch_size() %}
    {%- set column_override = model['config'].get('column_types', {}) %}
    {%- set types = [] %}
    {%- for col_name in agate_table.column_names %}
        {%- do types.append(column_override.get(col_name, adapter.convert_type(agate_table, loop.index0))) %}
    {%- endfor %}
    {%- set statements = [] %}
    {%- for chunk in agate_table.rows | batch(batch_size) %}
        {%- set rows = [] %}
        {%- for row in chunk %}
            {%- set values = [] %}
            {%- for value in row %}
                {%- do values.append('cast(' ~ spark_seed_literal(value) ~ ' as ' ~ types[loop.index0] ~ ')') %}
            {%- endfor %}
            {%- do rows.append('(' ~ values | join(', ') ~ ')') %}
        {%- endfor %}
        {%- set sql = 'insert into ' ~ this.render() ~ ' values\n' ~ rows | join(',\n') %}
        {%- do adapter.add_query(sql, abridge_sql_log=True) %}
        {%- if loop.first %}{% do statements.append(sql) %}{% endif %}
    {%- endfor %}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}

{#- one seed value as a Spark SQL literal -#}
{% macro spark_seed_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is sameas true or value is sameas false -%}
        {{ 'true' if value else 'false' }}
    {%- elif value is number -%}
        {{ value }}
    {%- else -%}
        '{{ (value | string) | replace('\\', '\\\\') | replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}
