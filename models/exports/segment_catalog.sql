-- One row per segment (every enabled model in models/segments), read from the dbt graph
-- when the model is built: nothing to list by hand. The exporter writes one file pair per
-- row here, so a segment with no members still gets its (empty) files. A segment without
-- a description or an owner (meta.owner) fails the build.

{%- set segments = segment_nodes() %}
{%- for node in segments %}
    {%- if not node.description or not node.meta.get('owner') %}
        {{ exceptions.raise_compiler_error(
            "Segment '" ~ node.name ~ "' needs a description and an owner (meta.owner) in models/segments/_segments.yml") }}
    {%- endif %}
{%- endfor %}

{%- if segments %}
    {%- for node in segments %}
        select
            '{{ node.name }}' as segment_name,
            '{{ node.description | trim | replace("'", "''") }}' as segment_description,
            '{{ node.meta.owner | replace("'", "''") }}' as segment_owner,
            '{{ node.schema }}.{{ node.alias }}' as segment_relation,
            '{{ node.original_file_path }}' as defined_in
        {{ "union all" if not loop.last }}
    {%- endfor %}
{%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as segment_name,
        cast(null as {{ dbt.type_string() }}) as segment_description,
        cast(null as {{ dbt.type_string() }}) as segment_owner,
        cast(null as {{ dbt.type_string() }}) as segment_relation,
        cast(null as {{ dbt.type_string() }}) as defined_in
    where false
{%- endif %}
