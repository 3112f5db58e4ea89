{#-
    The American Soundex code of a name (Robert, Rupert -> R163; Ashcraft -> A261): its
    first letter and three digits for the consonant sounds that follow, so names spelled
    differently but said alike share a code (Smith, Smyth, Schmidt -> S530). A blocking
    key, not a comparison: records whose names were misheard or mistyped are compared.

    Only the letters A-Z count, accents folded first (é -> E); a value without
    one gives null. Dispatched: Spark has soundex built in; elsewhere the same algorithm
    in plain SQL, equal to Spark's on every input: each letter becomes its digit (H and W
    none, vowels 0), runs of one digit collapse, the first letter's run is dropped, and
    the first three non-zero digits follow the first letter, padded with 0. (Spark's
    regexp_replace would read the group references differently; it never runs this.)
-#}
{% macro soundex(column) %}
    {{ return(adapter.dispatch('soundex', 'contact_enrichment')(column)) }}
{% endmacro %}

{% macro soundex_letters(column) -%}
    nullif({{ regexp_replace_all('upper(' ~ column ~ ')', '[^A-Z]', '') }}, '')
{%- endmacro %}

{% macro default__soundex(column) %}
    {%- set letters = soundex_letters(column) -%}
    {#- each letter's digit; H and W none after the first letter (so the digits either
        side of them collapse as one), and as the first letter a digit no other letter has -#}
    {%- set digits = "(translate(left(" ~ letters ~ ", 1), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', '01230129022455012623019202')"
        ~ " || translate(substr(" ~ letters ~ ", 2), 'ABCDEFGIJKLMNOPQRSTUVXYZHW', '012301202245501262301202'))" -%}
    {#- a run of one digit becomes that digit (the group that matched) -#}
    {%- set collapsed = regexp_replace_all(digits, '(0)0*|(1)1*|(2)2*|(3)3*|(4)4*|(5)5*|(6)6*', '\\1\\2\\3\\4\\5\\6\\7') -%}
    (left({{ letters }}, 1) || rpad(left(replace(substr({{ collapsed | trim }}, 2), '0', ''), 3), 3, '0'))
{% endmacro %}

{% macro duckdb__soundex(column) %}
    {{ default__soundex('strip_accents(' ~ column ~ ')') }}
{% endmacro %}

{#- strip_accents: registered by batch/spark_functions.py, DuckDB's own function -#}
{% macro spark__soundex(column) %}
    soundex({{ soundex_letters('strip_accents(' ~ column ~ ')') }})
{% endmacro %}
