-- One row per segment (every enabled model in models/segments), read from the dbt graph
-- when the model is built: nothing to list by hand. `mailchimp_tag` is set for the segments
-- whose meta opts in to the Mailchimp audience sync (docs/segments.md). The exporter writes one file pair per
-- row here, so a segment with no members still gets its (empty) files. A segment without
-- a description or an owner (meta.owner) fails the build.
--
-- Its parents in dbt's lineage are the segments named in CONTACTS_SEGMENT_MODELS, which
-- the project's commands set from the files in models/segments (dbt cannot list a
-- folder's models while it parses); a segment missing there still gets here, with a
-- warning that the lineage lacks it.
{%- for name in lineage_segment_names() %}
-- depends_on: {{ ref(name) }}
{%- endfor %}

{%- set segments = segment_nodes() %}
{%- set drawn = lineage_segment_names() %}
{%- for node in segments if node.name not in drawn %}
    {%- do exceptions.warn(
        "Segment '" ~ node.name ~ "' is not in dbt's lineage (" ~ node.name ~ "+ does not reach the exports): "
        ~ "run dbt through make, contacts, or an activated .venv, which name the segments "
        ~ "in CONTACTS_SEGMENT_MODELS") %}
{%- endfor %}
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
            '{{ node.original_file_path }}' as defined_in,
            {{ mailchimp_tag_of(node) }} as mailchimp_tag
        {{ "union all" if not loop.last }}
    {%- endfor %}
{%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as segment_name,
        cast(null as {{ dbt.type_string() }}) as segment_description,
        cast(null as {{ dbt.type_string() }}) as segment_owner,
        cast(null as {{ dbt.type_string() }}) as segment_relation,
        cast(null as {{ dbt.type_string() }}) as defined_in,
        cast(null as {{ dbt.type_string() }}) as mailchimp_tag
    where false
{%- endif %}
