{#-
    on-run-start: a build, run or test on a warehouse that has never loaded a landing file
    stops at once with what to do, instead of failing every source test with "see test
    failures". The raw tables are created by the loader (contacts load), not dbt.
-#}
{% macro assert_landing_loaded() %}
    {%- if execute and flags.WHICH in ('build', 'run', 'test', 'retry') -%}
        {%- set contacts = source('landing', 'contacts') -%}
        {%- if not relation_exists(contacts) -%}
            {{ exceptions.raise_compiler_error(
                "Nothing has been loaded into this warehouse yet (no " ~ contacts ~ "): load the landing "
                ~ "files first with `contacts load` (or `make load`), or run the whole night with "
                ~ "`contacts run`; `make run` runs it on demo data.") }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
