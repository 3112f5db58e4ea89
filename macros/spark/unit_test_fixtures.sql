{#-
    The rows of a unit test's `given` input (dict or csv format), as dbt renders them —
    but on Spark as one inline table (`values`) rather than a `union all` of one select per
    row. Spark analyses a union branch by branch, recursively: the Publication 28 seeds
    that the address unit tests read in full (568 rows) took ~45 s to analyse there, and
    overflowed the analyser's stack under `dbt test` (StackOverflowError in
    DeduplicateRelations). The same rows, the same column types (dbt's own format_row and
    safe_cast); other engines get dbt's macro unchanged.
-#}
{% macro get_fixture_sql(rows, column_name_to_data_types) %}
    {%- if target.type != 'spark' or not rows -%}
        {{ return(dbt.get_fixture_sql(rows, column_name_to_data_types)) }}
    {%- endif -%}
    {#- as dbt's macro: the input's columns from the warehouse (or the deferred relation) -#}
    {%- set relation = defer_relation if (defer_relation and not load_relation(this)) else this -%}
    {%- set types, quoted = {}, {} -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- do types.update({column.name | lower: column.data_type}) -%}
        {%- do quoted.update({column.name | lower: column.quoted}) -%}
    {%- endfor -%}
    {%- if not types -%}
        {{ exceptions.raise_compiler_error("Not able to get columns for unit test '" ~ model.name
                                           ~ "' from relation " ~ this ~ " because the relation doesn't exist") }}
    {%- endif -%}
    {{ validate_fixture_rows(rows, row_number) }}
-- Fixture for {{ model.name }}, one inline table
select * from values
    {%- for row in rows %}
    {%- set given = format_row(row, types) %}
    ({% for name, type in types.items() -%}
        {{ (given[name] if name in given else safe_cast("null", type)) | trim }}{{ ", " if not loop.last }}
    {%- endfor %}){{ "," if not loop.last }}
    {%- endfor %}
as fixture({% for name in types %}{{ quoted[name] }}{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}
