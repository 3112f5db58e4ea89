{#-
    A company name as the legal-suffix seed reads it: lower case, dots dropped (so
    "S.A." -> "sa", "G.m.b.H." -> "gmbh"), '&' read as 'and', other punctuation as
    spaces, runs of spaces collapsed, a leading "the " dropped.
-#}
{% macro company_key(column) %}
    nullif(trim({{ regexp_replace_all(
        regexp_replace_all(
            regexp_replace_all("replace(replace(lower(" ~ column ~ "), '.', ''), '&', ' and ')", "[,;:/()+!?\"''-]", ' '),
            ' +', ' '),
        '^the ', '') }}), '')
{% endmacro %}
