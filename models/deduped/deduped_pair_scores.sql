-- The match decision for every candidate pair, readable field by field: each comparison's
-- level, its weight (log2 of m / u, deduped_match_weights: estimated from the data, or an
-- override), the term-frequency adjustment of an exact level (a rare surname weighs more,
-- a common one less), the prior, their sum (match_weight, in bits) and the probability
-- that the two records are one person (match_probability).
--
-- A pair is a match when no guard holds (the dedupe_guards var: two first names that are
-- not one name's forms, unless a mailbox or number only this person gives says
-- otherwise; two dates of birth; two personal mailboxes at one company domain; a name
-- several people carry at one company) and either
-- * match_probability reaches the dedupe_match_probability var and some evidence is about
--   the person (same mailbox, same personal number, first and last name alike, or a date
--   of birth with a name), or
-- * (the dedupe_identifier_links var) the records give a mailbox or number nobody else
--   does and neither a name nor the date of birth differs (a surname may, when the
--   mailbox is the same under the same first name: a married name): an identifier
--   link, where the prior would leave one identifier short (a newsletter sign-up
--   holding only an address is its owner's).
-- A mailbox or number several people give (a switchboard, a household landline, a family
-- mailbox, info@) is no evidence: level 'shared', weight 0.
--
-- Frequencies use the whole data set, so they are applied here and not stored with the
-- comparisons.

{%- set comparisons = dedupe_comparisons() %}

with

comparisons as (

    -- only pairs that are still candidates (records change, blocks grow over their cap),
    -- with the rules that pair them tonight
    select
        comparisons.*,
        candidates.blocking_rules
    from {{ ref('deduped_pair_comparisons') }} as comparisons
    inner join {{ ref('deduped_candidate_pairs') }} as candidates
        on
            comparisons.record_id_a = candidates.record_id_a
            and comparisons.record_id_b = candidates.record_id_b
            and candidates.is_candidate

),

weights as (

    select comparison, comparison_level, match_weight, u_probability from {{ ref('deduped_match_weights') }}

),

prior as (

    select match_weight as prior_weight from weights where comparison = 'prior'

),

guard_switches as (

    {{ dedupe_guard_switches() }}

),

frequencies as (

    select value_type, value_key, records, is_shared from {{ ref('deduped_value_frequencies') }}

),

frequency_totals as (

    select value_type, sum(records) as records from frequencies group by value_type

),

shared as (

    select value_type, value_key from frequencies where is_shared

),

levels as (

    select
        comparisons.*,
        case
            when comparisons.email_level = 'exact' and shared_emails.value_key is not null then 'shared'
            -- info@ beside a personal mailbox at the same domain is no sign of two people
            when
                comparisons.email_level = 'same_domain_other_mailbox'
                and (shared_emails.value_key is not null or other_shared_emails.value_key is not null)
                then 'different'
            else comparisons.email_level
        end as email_level_scored,
        case
            when comparisons.phone_level = 'exact' and shared_phones.value_key is not null then 'shared'
            -- a switchboard on either side says nothing about the person
            when
                comparisons.phone_level = 'different'
                and (shared_phones.value_key is not null or other_shared_phones.value_key is not null)
                then 'missing'
            else comparisons.phone_level
        end as phone_level_scored,
        -- several people carry this name at this company (their records hold several
        -- personal mailboxes or numbers)
        ambiguous_names_a.value_key is not null or ambiguous_names_b.value_key is not null as is_ambiguous_name
    from comparisons
    left join shared as shared_emails
        on shared_emails.value_type = 'email' and comparisons.email_a = shared_emails.value_key
    left join shared as other_shared_emails
        on other_shared_emails.value_type = 'email' and comparisons.email_b = other_shared_emails.value_key
    left join shared as shared_phones
        on shared_phones.value_type = 'phone' and comparisons.phone_a = shared_phones.value_key
    left join shared as other_shared_phones
        on other_shared_phones.value_type = 'phone' and comparisons.phone_b = other_shared_phones.value_key
    left join shared as ambiguous_names_a
        on
            ambiguous_names_a.value_type = 'name_company'
            and concat_ws('|', comparisons.first_name_a, comparisons.last_name_a, comparisons.company_key_a)
            = ambiguous_names_a.value_key
    left join shared as ambiguous_names_b
        on
            ambiguous_names_b.value_type = 'name_company'
            and concat_ws('|', comparisons.first_name_b, comparisons.last_name_b, comparisons.company_key_b)
            = ambiguous_names_b.value_key

),

weighted as (

    select
        levels.record_id_a,
        levels.record_id_b,
        levels.blocking_rules,
        {% for comparison in comparisons %}
            {%- set level_column = comparison.name ~ '_level_scored' if comparison.name in ['email', 'phone']
                else comparison.name ~ '_level' %}
            levels.{{ level_column }}{% if level_column != comparison.name ~ '_level' %} as {{ comparison.name }}_level{% endif %},
            {{ comparison.name }}_weights.match_weight as {{ comparison.name }}_weight,
            {% if comparison.tf %}
                -- log2(u of the level / how often another record gives this value), the
                -- latter counted with dedupe_prior_pairs records at the level's u: a value
                -- in two records of a small file is not therefore a common one
                coalesce(
                    ln(
                        {{ comparison.name }}_weights.u_probability
                        / ((
                            {{ comparison.name }}_frequencies.records - 1
                            + {{ var('dedupe_prior_pairs') }} * {{ comparison.name }}_weights.u_probability
                        )
                        / ({{ comparison.name }}_totals.records - 1 + {{ var('dedupe_prior_pairs') }}))
                    ) / ln(2),
                    0
                ) as {{ comparison.name }}_tf_adjustment,
            {% endif %}
        {% endfor %}
        prior.prior_weight,
        guard_switches.first_names_guard,
        guard_switches.birth_dates_guard,
        levels.is_ambiguous_name,
        levels.first_name_similarity,
        levels.last_name_similarity
    from levels
    cross join prior
    cross join guard_switches
    {% for comparison in comparisons %}
        {%- set level_column = comparison.name ~ '_level_scored' if comparison.name in ['email', 'phone']
            else comparison.name ~ '_level' %}
        left join weights as {{ comparison.name }}_weights
            on
                {{ comparison.name }}_weights.comparison = '{{ comparison.name }}'
                and levels.{{ level_column }} = {{ comparison.name }}_weights.comparison_level
        {% if comparison.tf %}
            left join frequencies as {{ comparison.name }}_frequencies
                on
                    {{ comparison.name }}_frequencies.value_type = '{{ comparison.tf }}'
                    and levels.{{ level_column }} = '{{ (comparison.levels.keys() | list)[0] }}'
                    and levels.{{ comparison.name }}_tf_value = {{ comparison.name }}_frequencies.value_key
            left join frequency_totals as {{ comparison.name }}_totals
                on {{ comparison.name }}_totals.value_type = '{{ comparison.tf }}'
        {% endif %}
    {% endfor %}

),

scored as (

    select
        *,
        prior_weight
        {% for comparison in comparisons %}
            + {{ comparison.name }}_weight
            {%- if comparison.tf %} + {{ comparison.name }}_tf_adjustment{% endif %}
        {% endfor %} as match_weight,
        (
            email_level = 'exact'
            or phone_level = 'exact'
            or (
                first_name_level in ('exact', 'swapped', 'nickname', 'similar', 'similar_low', 'initial')
                and last_name_level in ('exact', 'swapped', 'similar', 'similar_low', 'partial')
            )
            -- a date of birth is the person's, with one of the names
            or (
                birth_date_level = 'exact'
                and (
                    first_name_level in ('exact', 'swapped', 'nickname', 'similar', 'similar_low', 'initial')
                    or last_name_level in ('exact', 'swapped', 'similar', 'similar_low', 'partial')
                )
            )
        ) as has_person_evidence,
        {{ dedupe_guard() }} as guard,
        -- only person-level identifiers (not names and company) make a link strong; weak
        -- links are dropped inside clusters that turn out to hold a conflict
        (email_level = 'exact' or phone_level = 'exact') as is_strong_link
    from weighted

),

final as (

    select
        *,
        1.0 / (1.0 + power(2.0, -least(greatest(match_weight, -60), 60))) as match_probability
    from scored

)

select
    *,
    guard is null
    and (
        (match_probability >= {{ var('dedupe_match_probability') }} and has_person_evidence)
        {%- if var('dedupe_identifier_links') %}
            -- a mailbox or number only these records give, and neither a name nor the
            -- date of birth says otherwise: one person, however little else they hold
            -- (a surname may change on marriage: a mailbox of one first name keeps the
            -- link; a number does not, colleagues of one first name share a desk line)
            or (
                is_strong_link
                and first_name_level <> 'different'
                and (
                    last_name_level <> 'different'
                    or (first_name_level in ('exact', 'nickname') and email_level = 'exact')
                )
                and birth_date_level <> 'different'
            )
        {%- endif %}
    ) as is_match
from final
