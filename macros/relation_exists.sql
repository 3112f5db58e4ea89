{#-
    True when `relation` exists in the warehouse. For a source that a loader creates on
    its first run (the enrichment responses): the staging model selects from it when it
    is there and from an empty, typed row set before. Call `source()` outside this macro
    so the lineage graph keeps the edge. Before execution (parsing) it answers true.
-#}
{% macro relation_exists(relation) %}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set found = adapter.get_relation(database=relation.database, schema=relation.schema,
                                         identifier=relation.identifier) -%}
    {{ return(found is not none) }}
{% endmacro %}
