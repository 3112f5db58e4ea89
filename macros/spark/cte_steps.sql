{#-
    A model's CTE chain run in steps on Spark, one query elsewhere:

        {% set body %}
            with ... {{ materialized_cte('a') }} ... ), ... select ...
        {% endset %}
        {{ cte_steps(body) }}

    Spark inlines every CTE where it is read, so a chain whose CTEs are read many times (a
    clustering's passes, rounds reading the round before twice) becomes a plan too large
    for the driver. On Spark, `materialized_cte` marks where such a CTE begins, and this
    macro writes each marked CTE once as a table beside the model (`<model>__<name>`), the
    later steps and the model's own query reading the table instead. The rounds of
    connected_components and conflict_free_groups, marked too, run as one table per round
    over tables (spark_components_step, spark_conflict_free_step). DuckDB, and a unit test
    on Spark (its refs are fixtures, not tables), get the body as it is: one query. The
    step tables hold the model's intermediate rows: its post-hook drop_step_tables drops
    them once the model is written.
-#}
{% macro cte_steps(body) %}
    {%- if target.type != 'spark' or not execute or model.resource_type == 'unit_test' %}
        {{ return(body) }}
    {%- endif %}
    {%- set re = modules.re %}
    {%- set prefix = this.schema ~ '.' ~ this.identifier ~ '__' %}
    {%- set text = re.sub('^\\s*with\\s', '', body, count=1) %}
    {%- set blocks = [] %}
    {%- for found in re.finditer('/\\*rounds:(\\w+):([\\w|]*):begin\\*/.*?/\\*rounds:end\\*/', text, re.S) %}
        {%- do blocks.append(found) %}
    {%- endfor %}
    {#- where each marked CTE begins: not the ones inside a block of rounds -#}
    {%- set starts = [] %}
    {%- for found in re.finditer('/\\*step:(\\w+)\\*/', text) %}
        {%- set inside = namespace(flag=false) %}
        {%- for block in blocks if block.start() < found.start() < block.end() %}
            {%- set inside.flag = true %}
        {%- endfor %}
        {%- if not inside.flag %}{% do starts.append((found.start(), found.group(1))) %}{% endif %}
    {%- endfor %}
    {%- set done = [] %}
    {%- for position, name in starts %}
        {%- set end = starts[loop.index][0] if not loop.last else text | length %}
        {#- the rounds inside this CTE (a block of rounds sits in a marked CTE's own select), over
            relations defined before it -#}
        {%- for block in blocks if position <= block.start() < end %}
            {%- set inputs = [] %}
            {%- for relation in block.group(2).split('|') if not relation.isdigit() %}
                {%- if relation in done %}
                    {%- do inputs.append(prefix ~ relation) %}
                {%- else %}
                    {%- do spark_step_table(prefix ~ 'input_' ~ relation,
                        steps_query(text[:position], done, prefix, relation)) %}
                    {%- do inputs.append(prefix ~ 'input_' ~ relation) %}
                {%- endif %}
            {%- endfor %}
            {%- if block.group(1) == 'components' %}
                {%- do spark_components_step(prefix ~ 'components_' ~ block.group(2), inputs[0]) %}
            {%- else %}
                {%- set arguments = block.group(2).split('|') %}
                {%- do spark_conflict_free_step(prefix ~ 'conflict_free_' ~ arguments[0], inputs[0], inputs[1],
                                                inputs[2], arguments[3] | int) %}
            {%- endif %}
        {%- endfor %}
        {%- if not loop.last %}
            {%- do spark_step_table(prefix ~ name, steps_query(text[:end], done, prefix, name)) %}
            {%- do done.append(name) %}
        {%- endif %}
    {%- endfor %}
    {{ return(steps_chain(text, done, prefix)) }}
{% endmacro %}

{#-
    `chain` (CTEs without `with`, then maybe a select) with `with` again: each CTE in `done`
    renamed away (unread, so never run) in favour of its table, each block of rounds read
    from its table.
-#}
{% macro steps_chain(chain, done, prefix) %}
    {%- set reads = [] %}
    {%- set renamed = namespace(chain=chain) %}
    {%- for name in done %}
        {%- set renamed.chain = renamed.chain.replace('/*step:' ~ name ~ '*/ ' ~ name ~ ' as (', name ~ '__inline as (') %}
        {%- do reads.append(name ~ ' as (select * from ' ~ prefix ~ name ~ ')') %}
    {%- endfor %}
    {%- set chain = modules.re.sub('/\\*rounds:(\\w+):(\\w+)[\\w|]*:begin\\*/.*?/\\*rounds:end\\*/',
                                   '(select * from ' ~ prefix ~ '\\1_\\2)', renamed.chain, flags=modules.re.S) %}
    {{ return('\nwith\n' ~ (reads | join(',\n') ~ ',\n' if reads else '') ~ chain) }}
{% endmacro %}

{#- a query of `relation`, one of the CTEs of `chain` (cut where a CTE begins) -#}
{% macro steps_query(chain, done, prefix, relation) %}
    {%- set chain = modules.re.sub('(\\s|--[^\\n]*)*$', '', chain) %}
    {%- set chain = chain[:-1] if chain.endswith(',') else chain %}
    {{ return(steps_chain(chain, done, prefix) ~ '\nselect * from ' ~ relation) }}
{% endmacro %}

{#-
    Connected components of the table `edges` into the table `result` (node, component),
    a table per round of connected_components' label propagation, until no label changes
    (pointer jumping: about log2 of the longest path rounds).
-#}
{% macro spark_components_step(result, edges) %}
    {%- do spark_step_table(result ~ '_neighbours', components_neighbours(edges)) %}
    {%- do spark_step_table(result ~ '_labels_0', components_start(result ~ '_neighbours')) %}
    {%- set state = namespace(round=0, converged=false) %}
    {%- for round in range(1, 65) if not state.converged %}
        {%- do spark_step_table(result ~ '_hooked', components_hook(result ~ '_neighbours',
                                                                  result ~ '_labels_' ~ (round - 1))) %}
        {%- do spark_step_table(result ~ '_labels_' ~ round, components_jump(result ~ '_hooked')) %}
        {%- set changed = run_query(
            'select count(*) from ' ~ result ~ '_labels_' ~ round ~ ' as now inner join ' ~ result ~ '_labels_'
            ~ (round - 1) ~ ' as before on now.node = before.node where now.component <> before.component'
        ).columns[0].values()[0] %}
        {%- do run_query('drop table if exists ' ~ result ~ '_labels_' ~ (round - 1)) %}
        {%- set state.round = round %}
        {%- set state.converged = changed == 0 %}
    {%- endfor %}
    {%- if not state.converged %}
        {%- do exceptions.raise_compiler_error('connected components of ' ~ edges ~ ' did not converge in 64 rounds') %}
    {%- endif %}
    {%- do spark_step_table(result, 'select node, component from ' ~ result ~ '_labels_' ~ state.round) %}
    {%- for leftover in ['_neighbours', '_hooked', '_labels_' ~ state.round] %}
        {%- do run_query('drop table if exists ' ~ result ~ leftover) %}
    {%- endfor %}
{% endmacro %}

{#-
    conflict_free_groups over the tables `groups`, `edges` and `conflicts` into the table
    `result` (node, group_id): a table per round, the same rounds (a round that merges
    nothing ends them early: the rounds after it would merge nothing either).
-#}
{% macro spark_conflict_free_step(result, groups, edges, conflicts, rounds) %}
    {%- do spark_step_table(result ~ '_groups_0', 'select node, group_id from ' ~ groups) %}
    {%- set state = namespace(round=0, settled=false) %}
    {%- for round in range(1, rounds + 1) if not state.settled %}
        {%- do spark_step_table(result ~ '_groups_' ~ round,
            'with groups_' ~ (round - 1) ~ ' as (select * from ' ~ result ~ '_groups_' ~ (round - 1) ~ '),\n'
            ~ conflict_free_round(edges, conflicts, round) ~ '\nselect node, group_id from groups_' ~ round) %}
        {%- set changed = run_query(
            'select count(*) from ' ~ result ~ '_groups_' ~ round ~ ' as now inner join ' ~ result ~ '_groups_'
            ~ (round - 1) ~ ' as before on now.node = before.node where now.group_id <> before.group_id'
        ).columns[0].values()[0] %}
        {%- do run_query('drop table if exists ' ~ result ~ '_groups_' ~ (round - 1)) %}
        {%- set state.round = round %}
        {%- set state.settled = changed == 0 %}
    {%- endfor %}
    {%- do spark_step_table(result, 'select node, group_id from ' ~ result ~ '_groups_' ~ state.round) %}
    {%- do run_query('drop table if exists ' ~ result ~ '_groups_' ~ state.round) %}
{% endmacro %}

{#-
    Post-hook of a model built in steps: its step tables (`<model>__*`) are dropped once the
    model is written, so no copy of the records it read (names, dates of birth) outlives the
    build, and an erasure's rebuild leaves none behind. Nothing on DuckDB.
-#}
{% macro drop_step_tables() %}
    {{ return(adapter.dispatch('drop_step_tables', 'contact_enrichment')()) }}
{% endmacro %}

{% macro default__drop_step_tables() %}{% endmacro %}

{% macro spark__drop_step_tables() %}
    {%- if execute %}
        {%- for row in run_query("show tables in " ~ this.schema ~ " like '" ~ this.identifier ~ "__*'")
            if not row['isTemporary'] %}
            {%- do run_query('drop table if exists ' ~ this.schema ~ '.' ~ row['tableName']) %}
        {%- endfor %}
    {%- endif %}
{% endmacro %}
