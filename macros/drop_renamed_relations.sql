{#-
    Relations an earlier version of the project built under a name it no longer has,
    dropped at the start of every run (an on-run-start hook): an upgraded warehouse keeps
    no stale copy of a renamed model, whose old table would otherwise keep personal data
    that `contacts forget` no longer reaches. When a model is renamed or split, add its
    old (schema, name) here.
-#}
{% macro drop_renamed_relations() %}
    {%- set renamed = [
        ('cleaned', 'cleaned_contact_locations'),
        ('enriched', 'contact_consent'),
        ('staging', 'stg_enrichment__person_answers'),
        ('staging', 'stg_enrichment__company_answers'),
        ('staging', 'stg_segments__membership_log'),
    ] -%}
    {%- if execute -%}
        {%- for schema, name in renamed -%}
            {%- set relation = adapter.get_relation(database=target.get('database'), schema=schema, identifier=name) -%}
            {%- if relation is not none -%}
                {%- do log("dropping " ~ relation ~ ", a relation of an earlier version of the project", info=true) -%}
                {%- do adapter.drop_relation(relation) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}
