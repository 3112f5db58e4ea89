{#-
    A record's street lines as one upper-case line, the second after a comma ("123 N. Main
    St." / "Suite 200" -> "123 N. MAIN ST., SUITE 200"): commas tell street_parse where a
    unit starts; the parser reads the dots. Null when both lines are blank. Used by
    cleaned_contact_addresses and cleaned_normaliser_inputs, which must agree. `ß` is
    upper-cased as `SS` (Unicode's full case mapping, and Spark's): DuckDB's upper() gives
    `ẞ`, so the engines would list "STRAẞE" and "STRASSE" as two lines or one.
-#}
{% macro street_compact(line_1, line_2) %}
    nullif({{ regexp_replace_all(
        regexp_replace_all(
            regexp_replace_all(
                "upper(replace(replace(replace(concat_ws(', ', " ~ line_1 ~ ", " ~ line_2
                ~ "), chr(10), ','), chr(13), ' '), 'ß', 'ss'))",
                " *[,;][ ,;]*", ', '),
            ' +', ' '),
        '^[ ,]+|[ ,]+$', '') }}, '')
{%- endmacro %}
