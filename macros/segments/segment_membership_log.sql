{#-
    Membership history of the segments (models/segments): one row per spell of a contact
    in a segment, from entered_at to left_at (null while it lasts). Written by every
    segment's post-hooks (record_segment_membership, set folder-wide in dbt_project.yml),
    so a new segment file is tracked without being listed anywhere. dbt reads it as the
    source segments.segment_membership_log; the segment_membership_history and
    segment_memberships models present it.
-#}

{% macro segment_membership_log() -%}
    {{ return(api.Relation.create(database=target.database, schema='segments',
                                  identifier='segment_membership_log', type='table')) }}
{%- endmacro %}

{#- the run's start as a timestamp literal (UTC, without time zone) -#}
{% macro run_started_timestamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{#- on-run-start: the log exists before any model reads or writes it -#}
{% macro create_segment_membership_log() %}
    {{ return(adapter.dispatch('create_segment_membership_log', 'contact_enrichment')()) }}
{% endmacro %}

{% macro default__create_segment_membership_log() %}
    {%- set log = segment_membership_log() %}
    {%- if execute %}{% do adapter.create_schema(log) %}{% endif %}
    create table if not exists {{ log }} (
        segment_name {{ dbt.type_string() }},
        contact_id {{ dbt.type_string() }},
        entered_at {{ dbt.type_timestamp() }},
        entered_invocation_id {{ dbt.type_string() }},
        left_at {{ dbt.type_timestamp() }},
        left_invocation_id {{ dbt.type_string() }},
        left_reason {{ dbt.type_string() }}
    )
{% endmacro %}

{% macro spark__create_segment_membership_log() %}
    {%- set log = segment_membership_log() %}
    {%- if execute %}{% do adapter.create_schema(log) %}{% endif %}
    create table if not exists {{ log }} (
        segment_name string, contact_id string, entered_at timestamp, entered_invocation_id string,
        left_at timestamp, left_invocation_id string, left_reason string
    ) using delta
{% endmacro %}

{#- ends the open spells that `condition` (SQL on the log's columns) picks, for `reason` -#}
{% macro end_spells(reason, condition) %}
    {%- set log = segment_membership_log() %}
    update {{ log }}
    set
        left_at = {{ run_started_timestamp() }},
        left_invocation_id = '{{ invocation_id }}',
        left_reason = '{{ reason }}'
    where left_at is null and {{ condition }}
{% endmacro %}

{#-
    Post-hooks of every segment model (`this`): close the spells of contacts no longer in
    the segment, open spells for contacts new in it. Two statements, two hooks.
-#}
{% macro close_segment_spells() %}
    {%- set log = segment_membership_log() %}
    {{ end_spells('left the segment',
        "segment_name = '" ~ model.name ~ "' and not exists (select 1 from " ~ this ~ " as members "
        ~ "where members.contact_id = " ~ log ~ ".contact_id)") }}
{% endmacro %}

{% macro open_segment_spells() %}
    {%- set log = segment_membership_log() %}
    insert into {{ log }}
    select distinct
        '{{ model.name }}' as segment_name,
        members.contact_id,
        {{ run_started_timestamp() }} as entered_at,
        '{{ invocation_id }}' as entered_invocation_id,
        cast(null as {{ dbt.type_timestamp() }}) as left_at,
        cast(null as {{ dbt.type_string() }}) as left_invocation_id,
        cast(null as {{ dbt.type_string() }}) as left_reason
    from {{ this }} as members
    where not exists (
        select 1 from {{ log }} as spells
        where
            spells.segment_name = '{{ model.name }}'
            and spells.left_at is null
            and spells.contact_id = members.contact_id
    )
{% endmacro %}

{#- post-hook of dim_contacts: a contact that merged into another, or was erased, leaves every segment -#}
{% macro close_spells_of_retired_contacts() %}
    {%- set log = segment_membership_log() %}
    {{ end_spells('contact no longer live',
        "not exists (select 1 from " ~ this ~ " as contacts where contacts.contact_id = " ~ log ~ ".contact_id)") }}
{% endmacro %}

{#- the segment models: every enabled model under models/segments (tag `segment`), from the graph -#}
{% macro segment_nodes() %}
    {%- set nodes = [] %}
    {%- if execute %}
        {%- for node in graph.nodes.values() | sort(attribute='name') %}
            {%- if node.resource_type == 'model' and 'segment' in node.tags %}
                {%- do nodes.append(node) %}
            {%- endif %}
        {%- endfor %}
    {%- endif %}
    {{ return(nodes) }}
{% endmacro %}

{#-
    The segment models named in CONTACTS_SEGMENT_MODELS (space-separated), which every dbt
    the project starts sets from the files in models/segments (ingestion/settings.py). dbt
    cannot list a folder's models while it parses, so this is how segment_catalog can
    ref() them: the lineage segments -> catalog -> memberships -> exports is drawn, and
    `dbt build --select my_segment+` rebuilds what the exports read.
-#}
{% macro lineage_segment_names() %}
    {{ return(env_var('CONTACTS_SEGMENT_MODELS', '').replace(',', ' ').split()) }}
{% endmacro %}

{#- on-run-end: a segment whose file was removed (or disabled) ends every spell it had -#}
{% macro close_spells_of_removed_segments() %}
    {%- if not execute %}{{ return('') }}{% endif %}
    {%- set names = segment_nodes() | map(attribute='name') | list %}
    {{ end_spells('segment removed', "segment_name not in ('" ~ names | join("', '") ~ "')" if names else 'true') }}
{% endmacro %}
