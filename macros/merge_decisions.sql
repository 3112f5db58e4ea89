{#-
    Merge decisions: a reviewer's word on two records, kept in the table
    review.merge_decisions (one row per decision; the latest on a pair wins). `must_link`
    puts the two records in one contact whatever their score; `cannot_link` keeps them in
    two, whatever links them (deduped_record_clusters). Written by `contacts review decide`
    (or any insert); dbt reads it as the source review.merge_decisions. Nothing in the
    project rebuilds or truncates it: a full refresh keeps every decision.
-#}

{% macro merge_decisions_table() -%}
    {{ return(api.Relation.create(database=target.get('database'), schema='review',
                                  identifier='merge_decisions', type='table')) }}
{%- endmacro %}

{#- on-run-start: the table exists before any model reads it -#}
{% macro create_merge_decisions_table() %}
    {%- set decisions = merge_decisions_table() %}
    {%- if execute %}{% do adapter.create_schema(decisions) %}{% endif %}
    create table if not exists {{ decisions }} (
        source_record_key_a {{ dbt.type_string() }},
        source_record_key_b {{ dbt.type_string() }},
        decision {{ dbt.type_string() }},
        decided_at {{ dbt.type_timestamp() }},
        decided_by {{ dbt.type_string() }},
        note {{ dbt.type_string() }}
    ) {{ table_format_clause() }}
{% endmacro %}

{#-
    A source record's key in merge decisions and the review: its source system and its id
    there (`crm:123`), which every later export of the record shares, or, for a record its
    file gives no id, its contact_record_id (that file load's row).
-#}
{% macro source_record_key(source_system, source_record_id, contact_record_id) -%}
    coalesce({{ source_system }} || ':' || nullif(trim({{ source_record_id }}), ''), {{ contact_record_id }})
{%- endmacro %}
