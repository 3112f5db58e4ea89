-- Blocking: which records are compared at all. One row per record and blocking rule
-- whose key fields the record has. The rules are the dedupe_blocking_rules var
-- (dbt_project.yml): each is a list of match-record columns that must all be equal. A
-- block over its rule's cap (a switchboard, info@, a very common name at a huge
-- employer) is not used for pairs (is_within_cap is false), so the candidate pairs stay
-- near-linear in the number of records; the other rules still see its records.

with

records as (

    select * from {{ ref('deduped_match_records') }}

),

keyed as (

    {% for rule in var('dedupe_blocking_rules') %}
        {% if not loop.first %}union all{% endif %}
        select
            contact_record_id,
            '{{ rule.name }}' as blocking_rule,
            concat_ws('|', {{ rule.columns | join(', ') }}) as block_key
        from records
        where {{ rule.columns | join(' is not null and ') }} is not null
    {% endfor %}

),

sized as (

    select
        keyed.*,
        count(*) over (partition by blocking_rule, block_key) as block_size
    from keyed

),

final as (

    select
        contact_record_id,
        blocking_rule,
        block_key,
        block_size,
        case blocking_rule
            {%- for rule in var('dedupe_blocking_rules') %}
                when '{{ rule.name }}' then block_size <= {{ rule.max_block_size }}
            {%- endfor %}
        end as is_within_cap
    from sized

)

select * from final
