{#-
    Text flag -> boolean: the yes/no spellings CRM exports use (true/false, yes/no, 1/0,
    y/n, x for a ticked box, ja/nein, oui/non). Blank is null: unknown, not "no".
    Plain SQL that every engine runs, so it needs no dispatch.
-#}
{% macro parse_boolean(column,
        true_values=['true', 't', 'yes', 'y', '1', 'x', 'ja', 'oui', 'si'],
        false_values=['false', 'f', 'no', 'n', '0', 'nein', 'non']) %}
    case
        when lower(trim({{ column }})) in ({% for v in true_values %}'{{ v }}'{{ ", " if not loop.last }}{% endfor %}) then true
        when lower(trim({{ column }})) in ({% for v in false_values %}'{{ v }}'{{ ", " if not loop.last }}{% endfor %}) then false
    end
{% endmacro %}
