{#-
    Fails on every combination of the given columns that occurs more than once
    (a compound primary key test; dbt-utils' test of the same name, written here
    because `dbt deps` cannot reach the package hub). Returns the duplicated keys.
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as rows_with_this_key
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
