{#-
    A checksum of every rule the cleaned layer applies: all seeds, the SQL of every
    cleaned model, and the `cleaned_rules_version` var. Each cleaned row stores the
    checksum it was cleaned under; an incremental run cleans new records and every
    record whose checksum differs, so editing a seed or a model re-cleans the history by
    itself. Macros and the Python functions are not in the checksum: after changing
    those, bump `cleaned_rules_version` (or run with --full-refresh).
-#}
{% macro cleaned_rules_checksum() %}
    {{ return(rules_checksum(['version:' ~ var('cleaned_rules_version')], folder='cleaned', seeds=true)) }}
{% endmacro %}

{#-
    The same for the deduped layer: the SQL of every deduped model, the blocking rules,
    the comparisons (dedupe_comparisons), the name-similarity vars and
    `dedupe_rules_version` (bump it after editing the comparison_levels or phone_key macro). Every incremental deduped model
    stores it on its rows, and forget_rows_under_other_rules deletes rows made under
    another, so after such an edit the next run re-keys, recounts, re-pairs and
    re-compares everything by itself.
-#}
{% macro deduped_rules_checksum() %}
    {{ return(rules_checksum(
        ['version:' ~ var('dedupe_rules_version'), 'similarity:' ~ var('dedupe_name_similarity'),
         'similarity_low:' ~ var('dedupe_name_similarity_low'),
         'blocking:' ~ tojson(var('dedupe_blocking_rules')), 'comparisons:' ~ tojson(dedupe_comparisons())],
        folder='deduped')) }}
{% endmacro %}

{#-
    The pre-hook of every deduped model: on an incremental run of a model that stores
    `rules_checksum`, delete its rows made under other rules. After a rule change the
    table is empty, its watermark falls back to 1900-01-01, and the run redoes it whole;
    otherwise it deletes nothing.
-#}
{% macro forget_rows_under_other_rules() %}
    {%- if execute and is_incremental() -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
        {%- if 'rules_checksum' in columns -%}
            {{ delete_rows(this, "rules_checksum <> '" ~ deduped_rules_checksum() ~ "'") }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}

{#-
    md5 over `parts` and the checksums of the chosen nodes: the models in `folder`, the
    models named in `models`, and every seed when `seeds` is true.
-#}
{% macro rules_checksum(parts, folder=none, models=[], seeds=false) %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set parts = parts | list -%}
    {#- unit tests render models with a graph that has no nodes -#}
    {%- for node in (graph.get('nodes') or {}).values() | sort(attribute='unique_id') -%}
        {%- set is_model = node.resource_type == 'model' -%}
        {%- if (seeds and node.resource_type == 'seed')
            or (is_model and folder and folder in node.fqn)
            or (is_model and node.name in models) -%}
            {%- do parts.append(node.unique_id ~ ':' ~ node.checksum.checksum) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(local_md5(parts | join('|'))) }}
{% endmacro %}
