{#- The Mailchimp tag a segment syncs under, as a SQL literal, from its yml meta:
    `mailchimp: true` (the tag is the segment's name), `mailchimp: {tag: "..."}`, or
    nothing (null: the segment is not synced). -#}
{% macro mailchimp_tag_of(node) %}
    {%- set opt_in = node.meta.get('mailchimp') -%}
    {%- if opt_in is mapping -%}
        {%- set tag = opt_in.get('tag') or node.name -%}
    {%- elif opt_in -%}
        {%- set tag = node.name -%}
    {%- else -%}
        {{ return('cast(null as ' ~ dbt.type_string() ~ ')') }}
    {%- endif -%}
    {{ return("'" ~ (tag | string | trim | replace("'", "''")) ~ "'") }}
{% endmacro %}
