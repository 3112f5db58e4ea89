-- The weight of every comparison level the scores use: the estimated one
-- (deduped_match_parameters: log2 of m / u), unless the match_weight_overrides seed sets
-- it, plus the levels that weigh nothing (missing: either side has no value; shared: a
-- mailbox or number several people give). One row per comparison and level, and the
-- prior (comparison 'prior'). Read it to see why the model decides as it does; edit the
-- seed to overrule it (dbt build, no re-estimation needed).

{%- set comparisons = dedupe_comparisons() %}

with

parameters as (

    select * from {{ ref('deduped_match_parameters') }}

),

overrides as (

    select comparison, comparison_level, match_weight, reason from {{ ref('match_weight_overrides') }}

),

neutral_levels as (

    {% for comparison in comparisons %}
        select
            '{{ comparison.name }}' as comparison,
            'missing' as comparison_level,
            {{ comparison.levels | length + 1 }} as level_order
        {% if comparison.name in ['email', 'phone'] %}
            union all
            select
                '{{ comparison.name }}' as comparison,
                'shared' as comparison_level,
                {{ comparison.levels | length + 2 }} as level_order
        {% endif %}
        {{ "union all" if not loop.last }}
    {% endfor %}

),

levels as (

    select
        comparison,
        comparison_level,
        level_order,
        m_probability,
        u_probability,
        match_weight as estimated_match_weight,
        em_sessions,
        records,
        estimated_at
    from parameters

    union all

    select
        neutral_levels.comparison,
        neutral_levels.comparison_level,
        neutral_levels.level_order,
        cast(null as double) as m_probability,
        cast(null as double) as u_probability,
        0.0 as estimated_match_weight,
        0 as em_sessions,
        cast(null as bigint) as records,
        cast(null as timestamp) as estimated_at
    from neutral_levels

),

-- agreement levels never count against a pair and disagreement levels (different, two
-- mailboxes at one domain) never for it: on little data a rare level's m and u are
-- guesses, and their ratio can point the wrong way
signed as (

    select
        *,
        case
            when comparison = 'prior' or m_probability is null then estimated_match_weight
            when comparison_level in ('different', 'same_domain_other_mailbox') then least(estimated_match_weight, 0)
            else greatest(estimated_match_weight, 0)
        end as signed_match_weight
    from levels

),

final as (

    select
        levels.comparison,
        levels.comparison_level,
        levels.level_order,
        levels.m_probability,
        levels.u_probability,
        levels.estimated_match_weight,
        coalesce(overrides.match_weight, levels.signed_match_weight) as match_weight,
        case
            when overrides.match_weight is not null then 'override'
            when levels.m_probability is null then 'neutral'
            else 'estimated'
        end as weight_source,
        overrides.reason as override_reason,
        levels.em_sessions,
        levels.records as estimated_on_records,
        levels.estimated_at
    from signed as levels
    left join overrides
        on levels.comparison = overrides.comparison and levels.comparison_level = overrides.comparison_level

)

select * from final
