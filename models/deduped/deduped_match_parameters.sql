{{
    config(
        materialized='incremental',
        unique_key=['comparison', 'comparison_level'],
        post_hook="{{ drop_step_tables() }}"
    )
}}

-- The match model's parameters, estimated from the data (Fellegi-Sunter, as Splink and
-- fastLink do): for every comparison level of dedupe_comparisons(), the m-probability (how
-- often two records of one person fall in it) and the u-probability (how often two records
-- of different people do), and their weight log2(m / u); plus the prior, the probability
-- that two random records are one person.
--
--   u  from random pairs of records (deduped_pair_comparisons' rules applied to a
--      deterministic sample of dedupe_u_sample_pairs pairs): almost all are two people.
--   m  by expectation maximisation over the candidate pairs, one session per blocking rule
--      that leaves out the comparisons on the rule's own columns (its pairs agree on
--      those by construction), with a u of the session's own (the two people a block
--      pairs agree on more than random pairs do); each session's estimates weigh by the
--      matches it expects. Pairs that share a switchboard or a family mailbox stay out.
--   prior  the expected matches among the candidate pairs over all pairs of records.
-- All three start from the priors of dedupe_comparisons() (dedupe_prior_matches,
-- dedupe_prior_pairs, dedupe_prior_match_probability), so a small file keeps sensible
-- weights.
--
-- Estimated when this table holds nothing under the current deduped rules (the first
-- build, a changed rule, --full-refresh), when the records have grown by
-- dedupe_reestimate_growth since, or on request (--vars '{dedupe_estimate: true}'); other
-- runs keep it as it is, so a night's decisions do not drift. deduped_match_weights puts
-- the overrides seed over it.

{%- set comparisons = dedupe_comparisons() %}
{%- set rules = var('dedupe_blocking_rules') %}
{%- set iterations = var('dedupe_em_iterations') %}

{%- set estimate = true %}
{%- if execute and is_incremental() and not var('dedupe_estimate') %}
    {%- set kept = run_query(
        "select count(*), coalesce(max(records), 0) from " ~ this
        ~ " where rules_checksum = '" ~ deduped_rules_checksum() ~ "'"
    ).rows[0] %}
    {%- set records_now = run_query("select count(*) from " ~ ref('deduped_match_records')).rows[0][0] %}
    {%- set estimate = kept[0] == 0 or records_now > var('dedupe_reestimate_growth') * kept[1] %}
{%- endif %}

{%- if not estimate %}

    select * from {{ this }} where 1 = 0

{%- else %}

    {#-
        The estimation, in blocks: the random pairs' u (sample), the candidate pairs'
        patterns (candidates), their log u (patterns_u), the EM's start (params_0), its
        rounds, then the weights and the prior (tail). On DuckDB they are one query. On
        Spark, which inlines every CTE where it is used, the rounds in one query are a plan
        too large for the driver: there each block is computed once as a cached relation and
        every round reads the round before it (match_parameter_steps).
    -#}
    {%- set sample_ctes %}
    {{ materialized_cte('records') }}

        select
            *,
            row_number() over (order by {{ sha256_hex('contact_record_id') }}) as sample_rank
        from {{ ref('deduped_match_records') }}

    ),

    record_count as (

        select count(*) as records from records

    ),

    -- a deterministic sample of pairs: each record with the ones 1..k places after it in
    -- an order by hash, k chosen for about dedupe_u_sample_pairs pairs (and at most half
    -- the records, so no pair comes twice)
    digits as (

        {% for d in range(10) %}
            select {{ d }} as digit{{ " union all" if not loop.last }}
        {% endfor %}

    ),

    offsets as (

        select ones.digit + 10 * tens.digit + 100 * hundreds.digit + 1000 * thousands.digit + 1 as step
        from digits as ones
        cross join digits as tens
        cross join digits as hundreds
        cross join digits as thousands

    ),

    sample_steps as (

        select offsets.step
        from offsets
        cross join record_count
        where
            offsets.step <= floor((record_count.records - 1) / 2)
            and offsets.step <= ceil({{ var('dedupe_u_sample_pairs') }} / greatest(record_count.records, 1))

    ),

    sampled_ranks as (

        select
            records.sample_rank as rank_a,
            mod(records.sample_rank + sample_steps.step - 1, record_count.records) + 1 as rank_b
        from records
        cross join sample_steps
        cross join record_count

    ),

    random_pairs as (

        select
            {{ comparison_levels('record_a', 'record_b') }}
        from sampled_ranks
        inner join records as record_a on sampled_ranks.rank_a = record_a.sample_rank
        inner join records as record_b on sampled_ranks.rank_b = record_b.sample_rank

    ),

    -- u: the share of each level among the sampled pairs that have the comparison, with
    -- the prior u of dedupe_comparisons() counted as dedupe_prior_pairs pairs
    {{ materialized_cte('u_wide') }}

        select
            {% for comparison in comparisons %}
                {% for level, prior in comparison.levels.items() %}
                    (count(case when {{ comparison.name }}_level = '{{ level }}' then 1 end)
                    + {{ var('dedupe_prior_pairs') * prior[1] }})
                    / (count(case when {{ comparison.name }}_level <> 'missing' then 1 end)
                    + {{ var('dedupe_prior_pairs') }}) as u__{{ comparison.name }}__{{ level }},
                {% endfor %}
            {% endfor %}
            count(*) as sampled_pairs
        from random_pairs

    )
    {%- endset %}

    {%- set candidate_ctes %}
    shared_values as (

        select value_type, value_key
        from {{ ref('deduped_value_frequencies') }}
        where value_type in ('email', 'phone') and is_shared

    ),

    -- the candidate pairs' levels, once per blocking rule that paired them, with the
    -- rule's own comparisons left out (as missing: they weigh nothing). Pairs that share a
    -- switchboard, a household landline or a team mailbox are left out: they are mostly
    -- two people who agree on much (colleagues, relatives), a second population EM would
    -- take for matches
    candidate_levels as (

        select
            comparisons.*,
            ',' || candidates.blocking_rules || ',' as rule_list
        from {{ ref('deduped_pair_comparisons') }} as comparisons
        inner join {{ ref('deduped_candidate_pairs') }} as candidates
            on
                comparisons.record_id_a = candidates.record_id_a
                and comparisons.record_id_b = candidates.record_id_b
                and candidates.is_candidate
        left join shared_values as shared_emails
            on shared_emails.value_type = 'email' and comparisons.email_tf_value = shared_emails.value_key
        left join shared_values as shared_phones
            on shared_phones.value_type = 'phone' and comparisons.phone_tf_value = shared_phones.value_key
        where shared_emails.value_key is null and shared_phones.value_key is null

    ),

    {{ materialized_cte('patterns') }}

        {% for rule in rules %}
            select
                '{{ rule.name }}' as session,
                {% for comparison in comparisons %}
                    {%- if comparison.columns | select('in', rule.columns) | list | length > 0 %}
                        'missing' as {{ comparison.name }}_level,
                    {%- else %}
                        {{ comparison.name }}_level,
                    {%- endif %}
                {% endfor %}
                count(*) as pairs
            from candidate_levels
            where rule_list like '%,{{ rule.name }},%'
            group by
                {% for comparison in comparisons %}
                    {%- if comparison.columns | select('in', rule.columns) | list | length == 0 %}
                        {{ comparison.name }}_level,
                    {%- endif %}
                {% endfor %}
                1
            union all
        {% endfor %}
        -- every candidate pair once, for the prior
        select
            '(all)' as session,
            {% for comparison in comparisons %}
                {{ comparison.name }}_level,
            {% endfor %}
            count(*) as pairs
        from candidate_levels
        group by
            {% for comparison in comparisons %}
                {{ comparison.name }}_level{{ "," if not loop.last }}
            {% endfor %}

    ),

    candidate_count as (

        select count(*) as candidate_pairs from candidate_levels

    )
    {%- endset %}

    {%- set patterns_u_cte %}
    -- log u of each pattern (fixed through the iterations)
    {{ materialized_cte('patterns_u') }}

        select
            patterns.*,
            {% for comparison in comparisons %}
                case {{ comparison.name }}_level
                    {% for level in comparison.levels %}
                        when '{{ level }}' then ln(u_wide.u__{{ comparison.name }}__{{ level }})
                    {% endfor %}
                    else 0
                end {{ "+" if not loop.last }}
            {% endfor %} as log_u
        from patterns
        cross join u_wide
        where patterns.session <> '(all)'

    )
    {%- endset %}

    {%- set params_0_cte %}
    -- EM starts every session from the starting m of dedupe_comparisons(), the random
    -- pairs' u and one pair in three a match
    params_0 as (

        select
            patterns_u.session,
            0.3 as lambda,
            {% for comparison in comparisons %}
                {% for level, prior in comparison.levels.items() %}
                    {{ prior[0] }} as m__{{ comparison.name }}__{{ level }},
                    u_wide.u__{{ comparison.name }}__{{ level }} as u__{{ comparison.name }}__{{ level }},
                {% endfor %}
            {% endfor %}
            sum(patterns_u.pairs) as pairs
        from patterns_u
        cross join u_wide
        group by
            patterns_u.session
            {%- for comparison in comparisons %}{% for level in comparison.levels %},
            u_wide.u__{{ comparison.name }}__{{ level }}
            {%- endfor %}{% endfor %}

    )
    {%- endset %}

    {%- set rounds = [] %}
    {%- for i in range(1, iterations + 1) %}
        {%- set round %}

        -- EM iteration {{ i }}: each pattern's probability of being a match, then the
        -- parameters that make those probabilities most likely. Within a session u is
        -- estimated too: the two people a block pairs agree on more than random pairs do
        -- (colleagues share a company, relatives an address), and a fixed u would take
        -- them for matches
        expected_{{ i }} as (

            select
                patterns_u.*,
                1.0 / (1.0 + exp(
                    ln(1.0 - params.lambda) - ln(params.lambda)
                    {% for comparison in comparisons %}
                        + case patterns_u.{{ comparison.name }}_level
                            {% for level in comparison.levels %}
                                when '{{ level }}' then ln(params.u__{{ comparison.name }}__{{ level }})
                                - ln(params.m__{{ comparison.name }}__{{ level }})
                            {% endfor %}
                            else 0
                        end
                    {% endfor %}
                )) as match_probability
            from patterns_u
            inner join params_{{ i - 1 }} as params on patterns_u.session = params.session

        ),

        params_{{ i }} as (

            select
                expected.session,
                least(greatest(sum(expected.pairs * expected.match_probability) / sum(expected.pairs), 1e-6), 1 - 1e-6)
                as lambda,
                {% for comparison in comparisons %}
                    {% for level, prior in comparison.levels.items() %}
                        -- the prior m of dedupe_comparisons() counted as dedupe_prior_matches
                        -- matches: a level no pair shows keeps a small m, not zero
                        (coalesce(sum(case
                            when expected.{{ comparison.name }}_level = '{{ level }}'
                                then expected.pairs * expected.match_probability
                        end), 0) + {{ var('dedupe_prior_matches') * prior[0] }})
                        / (coalesce(sum(case
                            when expected.{{ comparison.name }}_level <> 'missing'
                                then expected.pairs * expected.match_probability
                        end), 0) + {{ var('dedupe_prior_matches') }}) as m__{{ comparison.name }}__{{ level }},
                        (coalesce(sum(case
                            when expected.{{ comparison.name }}_level = '{{ level }}'
                                then expected.pairs * (1 - expected.match_probability)
                        end), 0) + u_wide.u__{{ comparison.name }}__{{ level }})
                        / (coalesce(sum(case
                            when expected.{{ comparison.name }}_level <> 'missing'
                                then expected.pairs * (1 - expected.match_probability)
                        end), 0) + 1) as u__{{ comparison.name }}__{{ level }},
                    {% endfor %}
                {% endfor %}
                sum(expected.pairs * expected.match_probability) as expected_matches
            from expected_{{ i }} as expected
            cross join u_wide
            group by
                expected.session
                {%- for comparison in comparisons %}{% for level in comparison.levels %},
                u_wide.u__{{ comparison.name }}__{{ level }}
                {%- endfor %}{% endfor %}

        )
        {%- endset %}
        {%- do rounds.append(round) %}
    {%- endfor %}

    {%- set tail %}
    -- which comparisons each session estimates (those not on its rule's own columns)
    session_comparisons as (

        select
            session,
            {% for comparison in comparisons %}
                max(case when {{ comparison.name }}_level <> 'missing' then 1 else 0 end) = 1
                as has_{{ comparison.name }}{{ "," if not loop.last }}
            {% endfor %}
        from patterns_u
        group by session

    ),

    -- each comparison's m from the sessions that estimate it, weighed by their expected
    -- matches; the starting value where no session could
    m_wide as (

        select
            {% for comparison in comparisons %}
                {% for level, prior in comparison.levels.items() %}
                    coalesce(
                        sum(case when sessions.has_{{ comparison.name }}
                            then params.expected_matches * params.m__{{ comparison.name }}__{{ level }} end)
                        / nullif(sum(case when sessions.has_{{ comparison.name }} then params.expected_matches end), 0),
                        {{ prior[0] }}
                    ) as m__{{ comparison.name }}__{{ level }},
                {% endfor %}
                count(case when sessions.has_{{ comparison.name }} and params.expected_matches >= 1 then 1 end)
                as sessions__{{ comparison.name }}{{ "," if not loop.last }}
            {% endfor %}
        from params_final as params
        inner join session_comparisons as sessions on params.session = sessions.session

    ),

    -- the prior: over all pairs of records, how many are one person. Fixed point of the
    -- expected matches among the candidate pairs (all others count as two people)
    all_patterns as (

        select
            patterns.pairs,
            {% for comparison in comparisons %}
                case patterns.{{ comparison.name }}_level
                    {% for level in comparison.levels %}
                        when '{{ level }}' then ln(m_wide.m__{{ comparison.name }}__{{ level }})
                        - ln(u_wide.u__{{ comparison.name }}__{{ level }})
                    {% endfor %}
                    else 0
                end {{ "+" if not loop.last }}
            {% endfor %} as log_bayes_factor
        from patterns
        cross join m_wide
        cross join u_wide
        where patterns.session = '(all)'

    ),

    total_pairs as (

        select greatest(records * (records - 1) / 2.0, 1.0) as pairs from record_count

    ),

    prior_0 as (

        select least(greatest(coalesce(sum(all_patterns.pairs), 0) / max(total_pairs.pairs), 1e-9), 0.5) as lambda
        from all_patterns
        cross join total_pairs

    ),

    {% for i in range(1, 11) %}

        prior_{{ i }} as (

            -- with dedupe_prior_matches matches at dedupe_prior_match_probability counted in:
            -- a file of a few records says little about how often two records are one person
            select
                least(greatest((coalesce(sum(all_patterns.pairs / (1.0 + exp(
                    ln(1.0 - prior.lambda) - ln(prior.lambda) - all_patterns.log_bayes_factor
                ))), 0) + {{ var('dedupe_prior_matches') }})
                / (max(total_pairs.pairs) + {{ var('dedupe_prior_matches') / var('dedupe_prior_match_probability') }}),
                1e-12), 0.5) as lambda
            from prior_{{ i - 1 }} as prior
            cross join total_pairs
            left join all_patterns on 1 = 1
            group by prior.lambda

        ),

    {% endfor %}

    parameters as (

        {% for comparison in comparisons %}
            {% for level in comparison.levels %}
                select
                    '{{ comparison.name }}' as comparison,
                    '{{ level }}' as comparison_level,
                    {{ loop.index }} as level_order,
                    m_wide.m__{{ comparison.name }}__{{ level }} as m_probability,
                    u_wide.u__{{ comparison.name }}__{{ level }} as u_probability,
                    ln(m_wide.m__{{ comparison.name }}__{{ level }} / u_wide.u__{{ comparison.name }}__{{ level }}) / ln(2)
                    as match_weight,
                    m_wide.sessions__{{ comparison.name }} as em_sessions
                from m_wide
                cross join u_wide
                union all
            {% endfor %}
        {% endfor %}

        select
            'prior' as comparison,
            'two_random_records_match' as comparison_level,
            0 as level_order,
            prior_10.lambda as m_probability,
            cast(null as double) as u_probability,
            ln(prior_10.lambda / (1 - prior_10.lambda)) / ln(2) as match_weight,
            0 as em_sessions
        from prior_10

    )

    select
        parameters.*,
        record_count.records,
        candidate_count.candidate_pairs,
        (select max(sampled_pairs) from u_wide) as sampled_pairs,
        '{{ deduped_rules_checksum() }}' as rules_checksum,
        current_timestamp as estimated_at
    from parameters
    cross join record_count
    cross join candidate_count
    {%- endset %}

    {%- if target.type == 'spark' %}

        {{ match_parameter_steps(sample_ctes, candidate_ctes, patterns_u_cte, params_0_cte, rounds, tail) }}

    {%- else %}

        with

        {{ sample_ctes }},

        {{ candidate_ctes }},

        {{ patterns_u_cte }},

        {{ params_0_cte }},

        {{ rounds | join(',\n') }},

        params_final as (

            select * from params_{{ iterations }}

        ),

        {{ tail }}

    {%- endif %}

{%- endif %}
