{#-
    A pair's evidence in one line, from a deduped_pair_scores row (`scores`: its alias):
    each comparison that both records could make, with its level and the bits it added
    (its weight with the term-frequency adjustment), e.g. `first_name exact +6.1,
    last_name similar +3.2, email different -4.0`. For reviewers and the identity map.
-#}
{% macro match_evidence(scores) -%}
    nullif(concat_ws(
        ', '
        {%- for comparison in dedupe_comparisons() %}
            {%- set weight -%}
                {{ scores }}.{{ comparison.name }}_weight
                {%- if comparison.tf %} + coalesce({{ scores }}.{{ comparison.name }}_tf_adjustment, 0){% endif %}
            {%- endset %},
        case
            when {{ scores }}.{{ comparison.name }}_level <> 'missing'
                then '{{ comparison.name }} ' || {{ scores }}.{{ comparison.name }}_level || ' '
                || case when {{ weight }} >= 0 then '+' else '' end
                || cast(round({{ weight }}, 1) as {{ dbt.type_string() }})
        end
        {%- endfor %}
    ), '')
{%- endmacro %}
