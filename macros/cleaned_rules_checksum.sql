{#-
    A checksum of every rule the cleaned layer applies: all seeds, the SQL of every
    cleaned model, and the `cleaned_rules_version` var. Each cleaned row stores the
    checksum it was cleaned under; an incremental run cleans new records and every
    record whose checksum differs, so editing a seed or a model re-cleans the history by
    itself. Macros and the Python functions are not in the checksum: after changing
    those, bump `cleaned_rules_version` (or run with --full-refresh).
-#}
{% macro cleaned_rules_checksum() %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set parts = ['version:' ~ var('cleaned_rules_version')] -%}
    {#- unit tests render models with a graph that has no nodes -#}
    {%- for node in (graph.get('nodes') or {}).values() | sort(attribute='unique_id') -%}
        {%- if node.resource_type == 'seed' or (node.resource_type == 'model' and 'cleaned' in node.fqn) -%}
            {%- do parts.append(node.unique_id ~ ':' ~ node.checksum.checksum) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(local_md5(parts | join('|'))) }}
{% endmacro %}
