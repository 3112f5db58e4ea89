{#-
    Membership history of the segments (models/segments), as events appended and never
    changed: a contact `entered` a segment, or `left` it (with why). Written by every
    segment's post-hook (record_segment_membership, set folder-wide in dbt_project.yml), so a
    new segment file is tracked without being listed anywhere; by dim_contacts' post-hook
    (a contact no longer live leaves every segment) and on-run-end (a removed segment's
    members leave it). Only inserts: safe on Parquet, which cannot update rows, and for
    segments built at the same time (threads). dbt reads it as the source
    segments.segment_membership_events; segment_membership_history pairs each entry with
    the exit that follows it (a spell) and segment_memberships keeps the open ones.
-#}

{% macro segment_membership_events() -%}
    {{ return(api.Relation.create(database=target.get('database'), schema='segments',
                                  identifier='segment_membership_events', type='table')) }}
{%- endmacro %}

{#- the run's start as a timestamp literal (UTC, without time zone) -#}
{% macro run_started_timestamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{#-
    on-run-start: the event table exists before any model reads or writes it. A warehouse
    of an earlier version kept spells in segments.segment_membership_log, updated in place:
    its spells become events here (an entry, and an exit when the spell ended), then the
    old table is dropped.
-#}
{% macro create_segment_membership_events() %}
    {%- set events = segment_membership_events() %}
    {%- if not execute %}{{ return('') }}{% endif %}
    {%- do adapter.create_schema(events) %}
    {%- set old_log = adapter.get_relation(database=events.database, schema=events.schema,
                                            identifier='segment_membership_log') %}
    {%- set existing = adapter.get_relation(database=events.database, schema=events.schema,
                                             identifier=events.identifier) %}
    {%- call statement('create_segment_membership_events') %}
    create table if not exists {{ events }} (
        segment_name {{ dbt.type_string() }},
        contact_id {{ dbt.type_string() }},
        event {{ dbt.type_string() }},
        event_at {{ dbt.type_timestamp() }},
        invocation_id {{ dbt.type_string() }},
        reason {{ dbt.type_string() }}
    ) {{ table_format_clause() }}
    {%- endcall %}
    {%- if old_log is not none %}
        {%- if existing is none %}
            {{ log('segment membership: the spells of ' ~ old_log ~ ' become events in ' ~ events, info=true) }}
            {%- call statement('migrate_segment_membership_log') %}
            insert into {{ events }}
            select segment_name, contact_id, 'entered', entered_at, entered_invocation_id,
                cast(null as {{ dbt.type_string() }})
            from {{ old_log }}
            union all
            select segment_name, contact_id, 'left', left_at, left_invocation_id, left_reason
            from {{ old_log }}
            where left_at is not null
            {%- endcall %}
        {%- endif %}
        {%- do adapter.drop_relation(old_log) %}
    {%- endif %}
{% endmacro %}

{#-
    The contacts whose latest event in a segment picked by `condition` (SQL on the event
    table's columns) is an entry: (segment_name, contact_id). Entries and exits alternate
    for a contact in a segment, so an open spell is one entry more than exits.
-#}
{% macro open_segment_members(condition='true') %}
    select segment_name, contact_id
    from {{ segment_membership_events() }}
    where {{ condition }}
    group by segment_name, contact_id
    having sum(case when event = 'entered' then 1 else -1 end) > 0
{% endmacro %}

{#- one row of the event table for the run: `event` and `reason` are SQL expressions -#}
{% macro membership_event_columns(event, reason) %}
    {{ event }} as event,
    {{ run_started_timestamp() }} as event_at,
    '{{ invocation_id }}' as invocation_id,
    {{ reason }} as reason
{% endmacro %}

{#-
    An exit for every open member picked by `segment_condition` (SQL on the event table's
    columns) and `members_condition` (SQL on open_members.contact_id), for `reason`.
-#}
{% macro record_exits(reason, members_condition='true', segment_condition='true') %}
    insert into {{ segment_membership_events() }}
    select
        open_members.segment_name,
        open_members.contact_id,
        {{ membership_event_columns("'left'", "'" ~ reason ~ "'") }}
    from ({{ open_segment_members(segment_condition) }}) as open_members
    where {{ members_condition }}
{% endmacro %}

{#-
    Post-hook of every segment model (`this`): in one insert, an exit for each open member
    the segment no longer holds and an entry for each member without an open spell.
-#}
{% macro record_segment_membership() %}
    {%- set this_segment = "segment_name = '" ~ model.name ~ "'" %}
    insert into {{ segment_membership_events() }}
    select
        open_members.segment_name,
        open_members.contact_id,
        {{ membership_event_columns("'left'", "'left the segment'") }}
    from ({{ open_segment_members(this_segment) }}) as open_members
    where not exists (select 1 from {{ this }} as members where members.contact_id = open_members.contact_id)
    union all
    select
        '{{ model.name }}' as segment_name,
        members.contact_id,
        {{ membership_event_columns("'entered'", "cast(null as " ~ dbt.type_string() ~ ")") }}
    from (select distinct contact_id from {{ this }}) as members
    where not exists (
        select 1 from ({{ open_segment_members(this_segment) }}) as open_members
        where open_members.contact_id = members.contact_id
    )
{% endmacro %}

{#- post-hook of dim_contacts: a contact that merged into another, or was erased, leaves every segment -#}
{% macro record_exits_of_retired_contacts() %}
    {{ record_exits('contact no longer live',
        members_condition="not exists (select 1 from " ~ this ~ " as contacts "
                          ~ "where contacts.contact_id = open_members.contact_id)") }}
{% endmacro %}

{#- on-run-end: a segment whose file was removed (or disabled) ends every spell it had -#}
{% macro record_exits_of_removed_segments() %}
    {%- if not execute %}{{ return('') }}{% endif %}
    {%- set names = segment_nodes() | map(attribute='name') | list %}
    {{ record_exits('segment removed',
        segment_condition="segment_name not in ('" ~ names | join("', '") ~ "')" if names else 'true') }}
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
