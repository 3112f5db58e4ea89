{#-
    The key a free-text value is looked up by in a reference seed: lower case, dots
    removed, runs of spaces collapsed, trimmed ("U.S.A. " -> "usa", "The  Netherlands"
    -> "the netherlands"). Seeds store their aliases in this form.
-#}
{% macro lookup_key(column) %}
    nullif(trim({{ regexp_replace_all("lower(replace(" ~ column ~ ", '.', ''))", ' +', ' ') }}), '')
{% endmacro %}
