{#-
    The incremental filter every cleaned_contact_* model applies to the staged records it
    reads: on an incremental run, only records not yet in the model under the current
    rules checksum (new records, and all records after a rule changed). Renders nothing on
    a full build. `staged_alias` is the alias of stg_landing__contacts in the query.
-#}
{% macro not_cleaned_yet(staged_alias) %}
    {%- if is_incremental() %}
    -- new records, and records cleaned under rules that have changed since
    where not exists (
        select 1
        from {{ this }} as already_cleaned
        where
            already_cleaned.contact_record_id = {{ staged_alias }}.contact_record_id
            and already_cleaned.rules_checksum = '{{ cleaned_rules_checksum() }}'
    )
    {%- endif %}
{% endmacro %}
