{#-
    A job title as the `job_title_rules` seed matches it: lower case, dots dropped, '&'
    read as 'and', other punctuation turned into spaces, runs of spaces collapsed
    ("V.P., Sales & Marketing" -> "vp sales and marketing").
-#}
{% macro title_key(column) %}
    nullif(trim(
        {{ regexp_replace_all(
            regexp_replace_all("replace(replace(lower(" ~ column ~ "), '.', ''), '&', ' and ')", "[,;:/()+|_''-]", ' '),
            ' +', ' ') }}
    ), '')
{% endmacro %}
