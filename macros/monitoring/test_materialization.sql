{#-
    dbt's data-test materialization, overridden by the project so that a test keeps its
    failing rows (store_failures, as a view in schema test_failures) only when it fails or
    warns. dbt's own drops and re-creates the view of every test on every run, passing or
    not, and then counts through it: two catalog writes per test, ~40 % of a build's test
    time on DuckDB and on Spark. Here the test is counted first, by dbt's get_test_sql on
    the test's own query; the view (the same query, so the same rows) is created only when
    the result is a failure or a warning, and the view an earlier failure left behind is
    dropped when the test passes, so schema test_failures shows exactly what is wrong now.
    Everything else is dbt's (limit, sql_header, fail_calc, warn_if, error_if,
    store_failures_as, the relation's name), as in dbt-core 1.11's materialization.
-#}
{%- materialization test, default -%}

  {% set relations = [] %}
  {% set limit = config.get('limit') %}
  {% set sql_header = config.get('sql_header') if flags.REQUIRE_SQL_HEADER_IN_TEST_CONFIGS else none %}

  {% set sql_with_limit %}
    {{ get_limit_subquery_sql(sql, limit) }}
  {% endset %}

  {% call statement('main', fetch_result=True) -%}
    {% if sql_header %}{{ sql_header }}{% endif %}
    {{ get_test_sql(sql_with_limit, config.get('fail_calc'), config.get('warn_if'), config.get('error_if'), limit=none) }}
  {%- endcall %}

  {% if should_store_failures() %}
    {% set counted = load_result('main').table.rows[0] %}
    {% set fails = config.get('severity', 'error') | upper == 'ERROR' and test_flag(counted[2]) %}
    {% set identifier = model['alias'] %}
    {% set old_relation = adapter.get_relation(database=database, schema=schema, identifier=identifier) %}

    {% if fails or test_flag(counted[1]) %}
      {% set store_failures_as = config.get('store_failures_as') %}
      {% if store_failures_as == none %}{% set store_failures_as = 'table' %}{% endif %}
      {% if store_failures_as not in ['table', 'view'] %}
        {{ exceptions.raise_compiler_error(
            "'" ~ store_failures_as ~ "' is not a valid value for `store_failures_as`. "
            "Accepted values are: ['ephemeral', 'table', 'view']") }}
      {% endif %}
      {% set target_relation = api.Relation.create(
          identifier=identifier, schema=schema, database=database, type=store_failures_as) %}
      {% if old_relation %}
        {% do adapter.drop_relation(old_relation) %}
      {% endif %}
      {% call statement(auto_begin=True) %}
        {% if sql_header %}{{ sql_header }}{% endif %}
        {{ get_create_sql(target_relation, sql_with_limit) }}
      {% endcall %}
      {% do relations.append(target_relation) %}
      {{ adapter.commit() }}
    {% elif old_relation %}
      {#- the test passes now: the rows an earlier failure kept are no longer wrong -#}
      {% do adapter.drop_relation(old_relation) %}
      {{ adapter.commit() }}
    {% endif %}
  {% endif %}

  {{ return({'relations': relations}) }}

{%- endmaterialization -%}


{#- get_test_sql's should_warn / should_error as a boolean, whatever type the engine returns -#}
{% macro test_flag(value) -%}
    {{ return((value | string | lower) in ('true', '1')) }}
{%- endmacro %}
