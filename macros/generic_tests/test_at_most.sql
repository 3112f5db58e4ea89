{#-
    Fails with every row whose `column_name` is above `value` (a var or a literal): for
    limits such as the largest cluster or the most pairs a blocking rule may produce.
-#}
{% test at_most(model, column_name, value) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} > {{ value }}

{% endtest %}
