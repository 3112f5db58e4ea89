{#-
    The two columns every cleaned_contact_* model carries: the rules checksum the row was
    cleaned under (what `not_cleaned_yet` compares) and when the run that cleaned it
    started (what cleaned_contacts picks up incrementally). Same value for the whole run.
-#}
{% macro cleaned_lineage_columns() %}
    '{{ cleaned_rules_checksum() }}' as rules_checksum,
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp) as cleaned_at
{%- endmacro %}
