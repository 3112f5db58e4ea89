{#-
    The key two phone numbers are compared by, valid or not: the last nine digits of the
    number's digits (nulls below seven digits). The same number written +1 555 123 4567,
    (555) 123-4567 or 1-555-1234567, or +44 20 7946 0958 and 020 7946 0958, has one key,
    whether or not phonenumbers could read it.
-#}
{% macro phone_key(column) %}
    case
        when length({{ regexp_replace_all(column, '[^0-9]', '') }}) >= 7
            then right({{ regexp_replace_all(column, '[^0-9]', '') }}, 9)
    end
{% endmacro %}
