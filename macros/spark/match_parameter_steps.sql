{#-
    Spark: deduped_match_parameters in steps. Spark inlines every CTE where it is read, so
    twenty EM rounds in one query, each reading the round before, the patterns and the
    random pairs' u, become one plan too large for the driver's heap. Here every block is
    computed once, as a table of its own beside the model (`<model>__<block>`: a temporary
    view would not do, Spark analyses a view's query again wherever it is read), and each
    round reads only the round before it: the plans stay small and linear in the rounds.
    The model's own query then reads the blocks' tables; the rounds before the last are
    dropped as the next is written, the rest by the model's post-hook (drop_step_tables). The blocks are the model's own SQL (sample,
    candidates, patterns_u, params_0, the rounds, the tail), so both engines estimate
    with the same statements.
-#}
{% macro match_parameter_steps(sample_ctes, candidate_ctes, patterns_u_cte, params_0_cte, rounds, tail) %}
    {%- set prefix = this.schema ~ '.' ~ this.identifier ~ '__' %}
    {%- if execute %}
        {%- do spark_step_table(prefix ~ 'u_wide', 'with ' ~ sample_ctes ~ '\nselect * from u_wide') %}
        {%- do spark_step_table(prefix ~ 'record_count', 'with ' ~ sample_ctes ~ '\nselect * from record_count') %}
        {%- do spark_step_table(prefix ~ 'patterns', 'with ' ~ candidate_ctes ~ '\nselect * from patterns') %}
        {%- do spark_step_table(prefix ~ 'candidate_count', 'with ' ~ candidate_ctes ~ '\nselect * from candidate_count') %}
        {%- do spark_step_table(prefix ~ 'patterns_u', 'with ' ~ step_ctes(prefix, ['u_wide', 'patterns']) ~ ',\n'
            ~ patterns_u_cte ~ '\nselect * from patterns_u') %}
        {%- do spark_step_table(prefix ~ 'params_0', 'with ' ~ step_ctes(prefix, ['u_wide', 'patterns_u']) ~ ',\n'
            ~ params_0_cte ~ '\nselect * from params_0') %}
        {%- for round in rounds %}
            {%- do spark_step_table(prefix ~ 'params_' ~ loop.index,
                'with ' ~ step_ctes(prefix, ['u_wide', 'patterns_u', 'params_' ~ (loop.index - 1)]) ~ ',\n'
                ~ round ~ '\nselect * from params_' ~ loop.index) %}
            {%- do run_query('drop table if exists ' ~ prefix ~ 'params_' ~ (loop.index - 1)) %}
        {%- endfor %}
    {%- endif %}
    with
    {{ step_ctes(prefix, ['u_wide', 'record_count', 'patterns', 'candidate_count', 'patterns_u']) }},

    params_final as (

        select * from {{ prefix }}params_{{ rounds | length }}

    ),

    {{ tail }}
{% endmacro %}

{#- `name as (select * from <prefix>name)` for each of `names`: CTEs reading the step tables -#}
{% macro step_ctes(prefix, names) -%}
    {%- set ctes = [] %}
    {%- for name in names %}
        {%- do ctes.append(name ~ ' as (select * from ' ~ prefix ~ name ~ ')') %}
    {%- endfor %}
    {{- ctes | join(',\n') -}}
{%- endmacro %}

{#- `sql` computed now into the table `name` (replaced) -#}
{% macro spark_step_table(name, sql) %}
    {%- do run_query('drop table if exists ' ~ name) %}
    {%- do run_query('create table ' ~ name ~ ' ' ~ table_format_clause() ~ ' as ' ~ sql) %}
{% endmacro %}
