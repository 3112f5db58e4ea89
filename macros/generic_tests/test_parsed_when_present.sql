{#-
    Fails on rows where the text column holds a value but the parsed column is null:
    a value in a format the parsing macro does not know. Returns those rows, so
    `dbt test --store-failures` shows which spellings to add.
-#}
{% test parsed_when_present(model, column_name, text_column) %}

select
    {{ text_column }} as unparsed_text,
    count(*) as rows_affected
from {{ model }}
where {{ column_name }} is null
    and nullif(trim({{ text_column }}), '') is not null
group by {{ text_column }}

{% endtest %}
