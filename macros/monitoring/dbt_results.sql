{#-
    The audit trail of every dbt invocation: one row per node result (model, seed, test,
    unit test) in monitoring.dbt_results, written by the on-run-end hook, so also when the
    build failed. dbt reads it as the source monitoring.dbt_results; the nightly run report
    and the alerts read it. A failing test's rows are not copied here: stored_failures_relation
    names the view (schema test_failures) that shows them, inside the warehouse.
-#}

{% macro dbt_results_relation() -%}
    {{ return(api.Relation.create(database=target.get('database'), schema='monitoring',
                                  identifier='dbt_results', type='table')) }}
{%- endmacro %}

{#- on-run-start: the audit table exists before the first result is recorded -#}
{% macro create_dbt_results_table() %}
    {%- set audit = dbt_results_relation() %}
    {%- if execute %}{% do adapter.create_schema(audit) %}{% endif %}
    create table if not exists {{ audit }} (
        invocation_id {{ dbt.type_string() }},
        invocation_started_at {{ dbt.type_timestamp() }},
        nightly_run_id {{ dbt.type_string() }},
        nightly_step {{ dbt.type_string() }},
        unique_id {{ dbt.type_string() }},
        resource_type {{ dbt.type_string() }},
        node_name {{ dbt.type_string() }},
        status {{ dbt.type_string() }},
        execution_seconds double,
        failures {{ dbt.type_int() }},
        rows_affected {{ dbt.type_int() }},
        message {{ dbt.type_string() }},
        stored_failures_relation {{ dbt.type_string() }},
        recorded_at {{ dbt.type_timestamp() }}
    ) {{ table_format_clause() }}
{% endmacro %}

{#- a SQL string literal of `value` (none: null), at most `length` characters -#}
{% macro audit_literal(value, length=1000) -%}
    {%- if value is none -%}
        null
    {%- else -%}
        {%- set text = (value | string)[:length] | replace("'", "''") -%}
        {#- Spark reads a backslash in a string literal as an escape -#}
        {%- if target.type == 'spark' %}{% set text = text | replace('\\', '\\\\') %}{% endif -%}
        '{{ text }}'
    {%- endif -%}
{%- endmacro %}

{#- on-run-end: one row per result of this invocation (`results`, dbt's run results) -#}
{% macro record_dbt_results(results) %}
    {%- if not execute or results | length == 0 %}
        {{ return('') }}
    {%- endif %}
    {%- set rows = [] %}
    {%- for result in results %}
        {%- set node = result.node %}
        {%- set rows_affected = (result.adapter_response or {}).get('rows_affected') %}
        {%- set stored = node.relation_name if node.resource_type == 'test'
            and result.status in ('fail', 'warn') and node.config.get('store_failures') else none %}
        {%- do rows.append("(" ~ [
            audit_literal(invocation_id),
            run_started_timestamp(),
            audit_literal(env_var('NIGHTLY_RUN_ID', '') or none),
            audit_literal(env_var('NIGHTLY_STEP', '') or none),
            audit_literal(node.unique_id),
            audit_literal(node.resource_type),
            audit_literal(node.name),
            audit_literal(result.status),
            (result.execution_time or 0) | round(3),
            result.failures if result.failures is not none else 'null',
            rows_affected if rows_affected is number else 'null',
            audit_literal(result.message if result.status not in ('success', 'pass') else none),
            audit_literal(stored),
            'current_timestamp'
        ] | join(', ') ~ ")") %}
    {%- endfor %}
    insert into {{ dbt_results_relation() }} values
    {{ rows | join(',\n') }}
{% endmacro %}
