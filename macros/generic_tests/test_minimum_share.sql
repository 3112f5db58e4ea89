{#-
    Fails (returns one row with the figures) when, among the rows in `scope`, the share
    that meets `condition` is below `min_share`. Use two instances, a `warn` one with a
    high threshold and an `error` one with a lower threshold, so a batch of bad data
    warns before it stops the build.
-#}
{% test minimum_share(model, condition, min_share, scope='1 = 1') %}

with

totals as (

    select
        count(*) as rows_in_scope,
        sum(case when {{ condition }} then 1 else 0 end) as rows_meeting
    from {{ model }}
    where {{ scope }}

)

select
    rows_in_scope,
    rows_meeting,
    1.0 * rows_meeting / rows_in_scope as share_meeting,
    {{ min_share }} as min_share
from totals
where rows_in_scope > 0 and 1.0 * rows_meeting / rows_in_scope < {{ min_share }}

{% endtest %}
