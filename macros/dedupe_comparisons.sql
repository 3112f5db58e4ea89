{#-
    The comparisons of the match model: for each, its levels from the most to the least
    alike ('missing', when either side has no value, is always there and weighs nothing)
    with the [m, u] probabilities a level has before the data says otherwise: they are
    the prior of the estimation (deduped_match_parameters blends them with what the data
    shows, as dedupe_prior_matches matches and dedupe_prior_pairs random pairs would), so
    a small first file, or a level the data hardly shows, gets sensible weights. Also the
    match-record columns the comparison reads (a blocking rule on one of them leaves the
    comparison out of that rule's EM session: those pairs agree on it by construction),
    and the value whose frequency adjusts the first level (term frequency; none: no
    adjustment). The SQL of the levels is the comparison_levels macro; their meaning is in
    the deduped layer's docs. Add a level here and there together.
-#}
{% macro dedupe_comparisons() %}
    {{ return([
        {'name': 'first_name', 'columns': ['given_name_key', 'first_name_key', 'first_initial', 'name_pair_key'],
         'levels': {'exact': [0.70, 0.01], 'swapped': [0.05, 0.0001], 'nickname': [0.05, 0.002],
                    'initial': [0.05, 0.003], 'similar': [0.05, 0.003], 'similar_low': [0.05, 0.01],
                    'different': [0.05, 0.9719]},
         'tf': 'given_name'},
        {'name': 'last_name', 'columns': ['last_name_key', 'last_initial', 'name_pair_key'],
         'levels': {'exact': [0.75, 0.005], 'swapped': [0.05, 0.0001], 'similar': [0.05, 0.002],
                    'similar_low': [0.05, 0.01], 'partial': [0.04, 0.0005], 'different': [0.06, 0.9824]},
         'tf': 'last_name'},
        {'name': 'email', 'columns': ['email_key'],
         'levels': {'exact': [0.60, 0.0001], 'same_domain_other_mailbox': [0.05, 0.01], 'different': [0.35, 0.9899]},
         'tf': 'email'},
        {'name': 'phone', 'columns': ['phone_key'],
         'levels': {'exact': [0.70, 0.0001], 'different': [0.30, 0.9999]},
         'tf': 'phone'},
        {'name': 'birth_date', 'columns': ['date_of_birth'],
         'levels': {'exact': [0.90, 0.0002], 'similar': [0.07, 0.004], 'different': [0.03, 0.9958]},
         'tf': none},
        {'name': 'address', 'columns': ['postal_code', 'street_number', 'city_key'],
         'levels': {'same_house': [0.70, 0.0002], 'same_street': [0.05, 0.0001], 'same_postal_code': [0.05, 0.002],
                    'same_city': [0.05, 0.01], 'different': [0.15, 0.9877]},
         'tf': 'house'},
        {'name': 'company', 'columns': ['company_match_key'],
         'levels': {'exact': [0.70, 0.01], 'same_domain': [0.10, 0.001], 'different': [0.20, 0.989]},
         'tf': 'company'},
        {'name': 'role', 'columns': ['job_title_key'],
         'levels': {'same_title': [0.45, 0.005], 'same': [0.20, 0.095], 'different': [0.35, 0.9]},
         'tf': none},
        {'name': 'country', 'columns': [],
         'levels': {'same': [0.95, 0.5], 'different': [0.05, 0.5]},
         'tf': none},
    ]) }}
{% endmacro %}

{#-
    The select (one row) saying which data-dependent guards hold: two first names, two
    dates of birth keep a pair apart only where the data shows that at most
    dedupe_guard_max_m of one person's record pairs disagree so (the level's estimated m).
    Read by deduped_pair_scores and deduped_record_clusters alike.
-#}
{% macro dedupe_guard_switches() %}
    select
        coalesce(
            max(case when comparison = 'first_name' and comparison_level = 'different' then m_probability end)
            <= {{ var('dedupe_guard_max_m') }}, true
        ) as first_names_guard,
        coalesce(
            max(case when comparison = 'birth_date' and comparison_level = 'different' then m_probability end)
            <= {{ var('dedupe_guard_max_m') }}, true
        ) as birth_dates_guard
    from {{ ref('deduped_match_weights') }}
{% endmacro %}

{#-
    The guards the dedupe_guards var switches on, as one SQL expression over a pair's levels
    (<comparison>_level columns, as comparison_levels names them) and the switches of
    dedupe_guard_switches: the name of the first guard that holds, or null. A pair a guard
    holds for is never a match (deduped_pair_scores); two records of one cluster a guard
    holds for split the cluster along its strong links (deduped_record_clusters, with
    `records=true`: the guards about two records alone, not the one about the pair's
    company, which needs the frequencies).
-#}
{% macro dedupe_guard(records=false) %}
    {%- set conditions = {
        'different_birth_dates': "birth_date_level = 'different' and birth_dates_guard",
        'two_mailboxes_at_one_domain': "email_level = 'same_domain_other_mailbox'",
        'different_first_names':
            "first_name_level = 'different' and email_level <> 'exact' and phone_level <> 'exact'"
            ~ " and first_names_guard",
        'ambiguous_name_at_company': "is_ambiguous_name and email_level <> 'exact' and phone_level <> 'exact'",
    } %}
    {%- set guards = [] %}
    {%- for name in var('dedupe_guards') %}
        {%- if name not in conditions %}
            {{ exceptions.raise_compiler_error("dedupe_guards: no guard " ~ name ~ " (known: "
                                               ~ (conditions.keys() | join(', ')) ~ ")") }}
        {%- endif %}
        {%- if not (records and name == 'ambiguous_name_at_company') %}
            {%- do guards.append(name) %}
        {%- endif %}
    {%- endfor %}
    {%- if guards -%}
        case
            {%- for name in guards %}
            when {{ conditions[name] }} then '{{ name }}'
            {%- endfor %}
        end
    {%- else -%}
        cast(null as {{ dbt.type_string() }})
    {%- endif %}
{% endmacro %}

{#-
    Every two records of one cluster of `relation` (its column `cluster`; the records have
    arrival_rank and the match-record columns the guards' comparisons read), with those
    comparisons' levels (comparison_level) and the guards' switches, read from a CTE named
    guard_switches (dedupe_guard_switches): what dedupe_guard(records=true) is applied to.
-#}
{% macro dedupe_guarded_pairs(relation, cluster) %}
    select
        record_a.{{ cluster }},
        record_a.arrival_rank as node_a,
        record_b.arrival_rank as node_b,
        {%- for comparison in ['first_name', 'email', 'phone', 'birth_date'] %}
            {{ comparison_level(comparison, 'record_a', 'record_b') }} as {{ comparison }}_level,
        {%- endfor %}
        guard_switches.first_names_guard,
        guard_switches.birth_dates_guard
    from {{ relation }} as record_a
    inner join {{ relation }} as record_b
        on record_a.{{ cluster }} = record_b.{{ cluster }} and record_a.arrival_rank < record_b.arrival_rank
    cross join guard_switches
{% endmacro %}
