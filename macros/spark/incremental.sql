{#-
    Incremental models on Spark.

    Every keyed incremental model (`unique_key`) replaces its rows by key. DuckDB does it
    with delete+insert; Spark's `merge` needs a table format that can update rows (Delta,
    Iceberg, Hudi). On Parquet, which cannot, the same result is written as a new table:
    the rows of the old one whose key tonight's rows do not hold, plus tonight's rows; then
    the new table takes the old one's name (spark_swap_table). So `merge` means the same on
    every format: with delta/iceberg/hudi (spark_file_format) it is dbt-spark's MERGE INTO.

    These macros override dbt-spark's of the same name (root-project macros come first).
    A guard: `insert_overwrite` without `partition_by` would replace the whole table with
    tonight's rows; it fails the model instead.
-#}

{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) %}
    {%- if raw_strategy not in ['append', 'merge', 'insert_overwrite', 'microbatch'] %}
        {%- do exceptions.raise_compiler_error('Invalid incremental strategy provided: ' ~ raw_strategy
            ~ "\n    Expected one of: 'append', 'merge', 'insert_overwrite', 'microbatch'") %}
    {%- endif %}
    {%- if raw_strategy in ['insert_overwrite', 'microbatch'] and not config.get('partition_by') %}
        {%- do exceptions.raise_compiler_error('incremental_strategy ' ~ raw_strategy ~ ' without partition_by'
            ~ ' would replace every row of ' ~ this ~ ' with this run\'s rows: set partition_by,'
            ~ ' or use merge (a unique_key) or append') %}
    {%- endif %}
    {{ return(raw_strategy) }}
{% endmacro %}

{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) %}
    {%- set file_format = config.get('file_format', default='parquet') %}
    {%- if strategy == 'merge' and file_format not in ['delta', 'iceberg', 'hudi'] %}
        {%- if not unique_key %}
            {%- do exceptions.raise_compiler_error('incremental_strategy merge needs a unique_key: ' ~ this) %}
        {%- endif %}
        {{ return(spark_upsert_by_rewrite(source, target, unique_key)) }}
    {%- endif %}
    {%- if strategy == 'append' %}
        {{ return(get_insert_into_sql(source, target)) }}
    {%- elif strategy in ['insert_overwrite', 'microbatch'] %}
        {{ return(get_insert_overwrite_sql(source, target, existing)) }}
    {%- else %}
        {{ return(get_merge_sql(target, source, unique_key, dest_columns=none,
                                incremental_predicates=incremental_predicates)) }}
    {%- endif %}
{% endmacro %}

{#-
    Keyed upsert on a format without MERGE: `target` rewritten as its rows whose key is not
    in `source`, plus `source`. Runs the statements itself; returns a harmless statement for
    the materialization's `main` call.
-#}
{% macro spark_upsert_by_rewrite(source, target, unique_key) %}
    {%- set keys = [unique_key] if unique_key is string else unique_key %}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='quoted') | join(', ') %}
    {%- set key_match = [] %}
    {%- for key in keys %}
        {%- do key_match.append('tonight.' ~ key ~ ' = kept.' ~ key) %}
    {%- endfor %}
    {%- set rows %}
        select {{ columns }} from {{ target }} as kept
        where not exists (select 1 from {{ source }} as tonight where {{ key_match | join(' and ') }})
        union all
        select {{ columns }} from {{ source }}
    {%- endset %}
    {%- do spark_swap_table(target, rows) %}
    {{ return('select 1') }}
{% endmacro %}

{#-
    Replaces `relation`'s rows with what `select_sql` returns (which may read `relation`):
    written to <name>__dbt_new first, then renamed into place; the old table is dropped
    last. A run killed between the renames leaves <name>__dbt_new behind, which
    spark_finish_swaps (on-run-start) puts in place, so no rows are lost.
-#}
{% macro spark_swap_table(relation, select_sql) %}
    {%- set new = relation.incorporate(path={'identifier': relation.identifier ~ '__dbt_new'}) %}
    {%- set old = relation.incorporate(path={'identifier': relation.identifier ~ '__dbt_old'}) %}
    {%- do run_query('drop table if exists ' ~ new) %}
    {%- do run_query('drop table if exists ' ~ old) %}
    {%- do run_query('create table ' ~ new ~ ' ' ~ table_format_clause() ~ ' as ' ~ select_sql) %}
    {%- do run_query('alter table ' ~ relation ~ ' rename to ' ~ old) %}
    {%- do run_query('alter table ' ~ new ~ ' rename to ' ~ relation) %}
    {%- do run_query('drop table if exists ' ~ old) %}
{% endmacro %}

{#-
    Rows of `relation` for which `condition` holds are deleted: `delete from` where the
    engine can (DuckDB), a rewrite of the table without them on Spark's Parquet.
-#}
{% macro delete_rows(relation, condition) %}
    {{ return(adapter.dispatch('delete_rows', 'contact_enrichment')(relation, condition)) }}
{% endmacro %}

{% macro default__delete_rows(relation, condition) -%}
    delete from {{ relation }} where {{ condition }}
{%- endmacro %}

{% macro spark__delete_rows(relation, condition) -%}
    {%- if var('spark_file_format', 'parquet') in ['delta', 'iceberg', 'hudi'] -%}
        delete from {{ relation }} where {{ condition }}
    {%- else -%}
        {%- if execute %}
            {%- set matches = run_query('select count(*) from ' ~ relation ~ ' where ' ~ condition).columns[0].values()[0] %}
            {%- if matches > 0 %}
                {%- do spark_swap_table(relation, 'select * from ' ~ relation ~ ' where not (' ~ condition ~ ')') %}
            {%- endif %}
        {%- endif -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#-
    on-run-start (Spark): a table swap that a killed run left half done is finished. A
    <name>__dbt_new without <name> is put in place; a leftover <name>__dbt_new beside its
    table (killed before the first rename) or <name>__dbt_old (after the second) is dropped.
-#}
{% macro finish_table_swaps() %}
    {{ return(adapter.dispatch('finish_table_swaps', 'contact_enrichment')()) }}
{% endmacro %}

{% macro default__finish_table_swaps() %}{% endmacro %}

{% macro spark__finish_table_swaps() %}
    {%- if not execute %}{{ return('') }}{% endif %}
    {%- set schemas = [] %}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.schema not in schemas %}
        {%- do schemas.append(node.schema) %}
    {%- endfor %}
    {%- for schema in schemas %}
        {%- set names = [] %}
        {%- if adapter.check_schema_exists(none, schema) %}
            {%- for row in run_query('show tables in ' ~ schema) if not row['isTemporary'] %}
                {%- do names.append(row['tableName']) %}
            {%- endfor %}
        {%- endif %}
        {%- for name in names if name.endswith('__dbt_new') or name.endswith('__dbt_old') %}
            {%- set base = name[:-9] %}
            {%- if name.endswith('__dbt_new') and base not in names %}
                {{ log('finishing the interrupted rewrite of ' ~ schema ~ '.' ~ base, info=true) }}
                {%- do run_query('alter table ' ~ schema ~ '.' ~ name ~ ' rename to ' ~ schema ~ '.' ~ base) %}
            {%- else %}
                {%- do run_query('drop table if exists ' ~ schema ~ '.' ~ name) %}
            {%- endif %}
        {%- endfor %}
    {%- endfor %}
{% endmacro %}
