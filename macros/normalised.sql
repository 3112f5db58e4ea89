{#-
    A call of one of the project's Python functions (batch/duckdb_functions.py: phone_parse,
    name_case, parse_person_name, street_parse, ...), made where the engine can make it.

    The `normalisers` var (default: the CONTACTS_NORMALISERS environment variable, else
    `function`) chooses how:
    - `function`: the plain call, `phone_parse(a, b)`. DuckDB registers the functions on
      its connection (dbt-duckdb's plugin), local Spark on the session the project starts
      (batch/spark_functions.py).
    - `table`: the value is looked up in `normalised.<function>`, a keyed table (key_1,
      key_2 -> result) that `python -m batch.normalise` fills before the cleaned models are
      built, for every key `cleaned_normaliser_inputs` lists. For an engine whose session
      the project does not own (a cluster reached over Thrift, Databricks): the table is
      all it needs. A key the table lacks stops the model with an error naming the step to
      run, rather than cleaning the record with nothing.

    `arguments` are the call's SQL expressions; `keys` (default: the arguments) what the
    table is keyed by, when an argument is a long constant that a short key stands for
    (street_parse's three Publication 28 tables, keyed by their checksum).
-#}
{% macro normalised(function_name, arguments, keys=none) %}
    {%- if normalisers_mode() == 'function' -%}
        {{ function_name }}({{ arguments | join(', ') }})
    {%- else -%}
        {%- set keys = keys or arguments -%}
        {#- ref() while parsing too: the model then comes after the inputs and everything they
            read (with two threads, its check would otherwise race their rebuild) -#}
        {%- set inputs = ref('cleaned_normaliser_inputs') -%}
        {%- do assert_normalised(function_name, keys | length, inputs) -%}
        (
            select first(normalised_values.result)
            from {{ normalised_relation(function_name) }} as normalised_values
            where
            {%- for key in keys %}
                {% if not loop.first %}and {% endif %}normalised_values.key_{{ loop.index }} = {{ key }}
            {%- endfor %}
        )
    {%- endif -%}
{% endmacro %}

{% macro normalisers_mode() %}
    {%- set mode = var('normalisers', env_var('CONTACTS_NORMALISERS', 'function')) | trim | lower -%}
    {%- if mode not in ('function', 'table') -%}
        {{ exceptions.raise_compiler_error("normalisers must be 'function' or 'table', not '" ~ mode ~ "'") }}
    {%- endif -%}
    {{ return(mode) }}
{% endmacro %}

{% macro normalised_relation(function_name) %}
    {{ return('normalised.' ~ function_name) }}
{% endmacro %}

{#- table mode: every key cleaned_normaliser_inputs lists for the function has its row -#}
{% macro assert_normalised(function_name, key_count, inputs) %}
    {%- if not execute or model is not defined or model.resource_type != 'model' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set found = adapter.get_relation(database=inputs.database, schema=inputs.schema,
                                         identifier=inputs.identifier) -%}
    {%- set table = adapter.get_relation(database=inputs.database, schema='normalised', identifier=function_name) -%}
    {%- set step = 'python -m batch.normalise (the nightly run does it when CONTACTS_NORMALISERS=table)' -%}
    {%- if table is none or found is none -%}
        {{ exceptions.raise_compiler_error("normalised." ~ function_name ~ " does not exist: with normalisers "
            ~ "= table, run " ~ step ~ " before building " ~ model.name) }}
    {%- endif -%}
    {%- set matches = [] -%}
    {%- for index in range(1, key_count + 1) -%}
        {%- do matches.append('n.key_' ~ index ~ ' = i.key_' ~ index) -%}
    {%- endfor -%}
    {%- set missing = run_query(
        "select count(*) from " ~ inputs ~ " as i where i.function_name = '"
        ~ function_name ~ "' and not exists (select 1 from " ~ table ~ " as n where "
        ~ matches | join(' and ') ~ ")").columns[0].values()[0] -%}
    {%- if missing > 0 -%}
        {{ exceptions.raise_compiler_error(missing ~ " values of " ~ function_name ~ " are not in normalised."
            ~ function_name ~ " yet: run " ~ step ~ " before building " ~ model.name) }}
    {%- endif -%}
{% endmacro %}
