{#-
    A one-row select of the three USPS Publication 28 tables (the usps_* seeds), each as
    one text that street_parse reads (key=code=...,...), and their checksum `tables_key`,
    which keys the parsed lines in normalised.street_parse when the normalisers are looked
    up (the `normalised` macro). Used by cleaned_contact_addresses and
    cleaned_normaliser_inputs, which must agree.
-#}
{% macro usps_street_tables() %}
    select
        suffixes,
        designators,
        directionals,
        md5(concat_ws('|', suffixes, designators, directionals)) as tables_key
    from (
        select
            (
                select {{ string_list_agg(
                    "concat_ws('=', suffix_key, suffix_code, suffix_name, "
                    ~ "case when source = 'C1' then 'true' else 'false' end)") }}
                from {{ ref('usps_street_suffixes') }}
            ) as suffixes,
            (
                select {{ string_list_agg(
                    "concat_ws('=', designator_key, designator_code, case when needs_number then 'true' else 'false' end)"
                ) }}
                from {{ ref('usps_unit_designators') }}
            ) as designators,
            (
                select {{ string_list_agg("concat_ws('=', directional_key, directional_code)") }}
                from {{ ref('usps_directionals') }}
            ) as directionals
    ) as usps_tables
{%- endmacro %}
