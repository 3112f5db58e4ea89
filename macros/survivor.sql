{#-
    Survivorship: a subquery with one row per contact_id holding the given columns of the
    record that wins for one group of fields, plus `<group>_record_id` and
    `<group>_source_system` (provenance: which source record gave the values).

    relation   the records, with contact_id, contact_record_id, source_system and the columns
    group      name of the field group, prefixes the provenance columns
    columns    columns taken together from the winning record
    candidates condition a record must meet to compete (it has a value)
    order_by   the survivorship rules, best first; the first row of the order wins
-#}
{% macro survivor(relation, group, columns, candidates, order_by) %}
    (
        select
            contact_id,
            {%- for column in columns %}
            {{ column }},
            {%- endfor %}
            contact_record_id as {{ group }}_record_id,
            source_system as {{ group }}_source_system
        from (
            select
                *,
                row_number() over (partition by contact_id order by {{ order_by | join(', ') }}) as survivor_rank
            from {{ relation }}
            where {{ candidates }}
        ) as ranked
        where survivor_rank = 1
    )
{% endmacro %}
