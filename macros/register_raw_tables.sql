{#-
    Spark: registers the raw tables that dlt's filesystem destination wrote (Parquet, one
    folder per table: <raw_dir>/<dataset>/<table>/*.parquet) as tables of the catalog, so
    the sources (raw_landing.contacts, raw_enrichment.provider_responses, ...) read them.
    `tables` lists "dataset.table" names whose folders exist (the nightly run lists them;
    a table is registered once, and Spark reads the files a later load adds on the next
    query after `refresh table`). Run as
    `dbt run-operation register_raw_tables --args '{raw_dir: ..., tables: [...]}'`.
-#}
{% macro register_raw_tables(raw_dir, tables) %}
    {%- for name in tables %}
        {%- set dataset, table = name.split('.') %}
        {%- do run_query('create database if not exists ' ~ dataset) %}
        {%- do run_query('create table if not exists ' ~ dataset ~ '.' ~ table
            ~ " using parquet location '" ~ raw_dir ~ '/' ~ dataset ~ '/' ~ table ~ "'") %}
        {%- do run_query('refresh table ' ~ dataset ~ '.' ~ table) %}
    {%- endfor %}
    {{ log('registered ' ~ tables | length ~ ' raw table(s) under ' ~ raw_dir, info=true) }}
{% endmacro %}
