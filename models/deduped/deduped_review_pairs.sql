-- Merge review: the pairs a person should look at, one row per pair, with the model's
-- evidence field by field and the two records' values side by side.
--
-- Only pairs some evidence is about the person (has_person_evidence: a mailbox, a number,
-- both names alike, a date of birth with a name) can be one person, so only they are
-- listed:
-- * near_threshold: no guard holds and the match probability is within the review band
--   (the vars dedupe_review_min_probability and dedupe_review_max_probability) around the
--   match threshold (dedupe_match_probability): the model was least sure of these;
-- * held_by_guard: the score alone would merge them, a guard keeps them apart;
-- * identity_conflict: a matched pair inside a contact whose records still conflict;
-- * decided: a reviewer's decision is in force on the pair (so it can be checked and
--   withdrawn).
--
-- review_rank orders the undecided ones, closest to the threshold first. To decide,
-- `contacts review decide must_link|cannot_link KEY_A KEY_B` with the source record keys
-- shown here; the next build honours it (deduped_record_clusters).

{#- the threshold as a match weight, in bits -#}
{%- set threshold = var('dedupe_match_probability') | float %}
{%- set threshold_weight = "ln(%f / (1 - %f)) / ln(2)" % ([threshold, 0.999999] | min, [threshold, 0.999999] | min) %}

with

scores as (

    select * from {{ ref('deduped_pair_scores') }}

),

identity as (

    select contact_record_id, source_record_key, contact_id, has_identity_conflict
    from {{ ref('contact_identity_map') }}

),

decisions as (

    select * from {{ ref('stg_review__merge_decisions') }}

),

records as (

    select * from {{ ref('cleaned_contacts') }}

),

-- pairs with a decision on them, whether the model paired them or not
decided_records as (

    select
        least(identity_a.contact_record_id, identity_b.contact_record_id) as record_id_a,
        greatest(identity_a.contact_record_id, identity_b.contact_record_id) as record_id_b
    from decisions
    inner join identity as identity_a on decisions.source_record_key_a = identity_a.source_record_key
    inner join identity as identity_b on decisions.source_record_key_b = identity_b.source_record_key

),

-- records of contacts that still hold a conflict
conflicted_records as (

    select contact_record_id from identity where has_identity_conflict

),

-- only pairs some evidence is about the person can be one: the others are no question
candidates as (

    select
        scores.record_id_a,
        scores.record_id_b,
        case
            when
                scores.guard is null
                and scores.match_probability >= {{ var('dedupe_review_min_probability') }}
                and scores.match_probability <= {{ var('dedupe_review_max_probability') }}
                then 'near_threshold'
            when scores.guard is not null and scores.match_probability >= {{ threshold }} then 'held_by_guard'
            when scores.is_match and conflicted_records.contact_record_id is not null then 'identity_conflict'
        end as review_reason
    from scores
    left join conflicted_records on scores.record_id_a = conflicted_records.contact_record_id
    where scores.has_person_evidence

),

pairs as (

    select record_id_a, record_id_b, max(review_reason) as review_reason
    from (
        select record_id_a, record_id_b, review_reason from candidates where review_reason is not null
        union all
        select record_id_a, record_id_b, 'decided' as review_reason from decided_records
    ) as reasons
    group by record_id_a, record_id_b

),

final as (

    select
        -- the pair
        identity_a.source_record_key as source_record_key_a,
        identity_b.source_record_key as source_record_key_b,
        pairs.record_id_a,
        pairs.record_id_b,
        identity_a.contact_id as contact_id_a,
        identity_b.contact_id as contact_id_b,
        identity_a.contact_id = identity_b.contact_id as is_same_contact,

        -- why it is here, and what was decided
        case when decisions.decision is not null then 'decided' else pairs.review_reason end as review_reason,
        decisions.decision,
        decisions.decided_at,
        decisions.decided_by,
        decisions.note as decision_note,

        -- the model's view
        scores.match_probability,
        scores.match_weight,
        scores.is_match,
        scores.has_person_evidence,
        scores.guard,
        {{ match_evidence('scores') }} as evidence,
        case
            when decisions.decision is null and scores.match_weight is not null
                then row_number() over (
                    partition by decisions.decision is null
                    order by abs(scores.match_weight - {{ threshold_weight }}), pairs.record_id_a, pairs.record_id_b
                )
        end as review_rank,
        {%- for comparison in dedupe_comparisons() %}
            scores.{{ comparison.name }}_level,
        {%- endfor %}

        -- the two records, side by side
        {%- for column in ['first_name', 'last_name', 'date_of_birth', 'email_address', 'phone_e164',
                           'phone_original', 'street_address', 'postal_code', 'city', 'country_code',
                           'company_name', 'job_title'] %}
            records_a.{{ column }} as {{ column }}_a,
            records_b.{{ column }} as {{ column }}_b,
        {%- endfor %}
        records_a.source_system as source_system_a,
        records_b.source_system as source_system_b
    from pairs
    inner join identity as identity_a on pairs.record_id_a = identity_a.contact_record_id
    inner join identity as identity_b on pairs.record_id_b = identity_b.contact_record_id
    inner join records as records_a on pairs.record_id_a = records_a.contact_record_id
    inner join records as records_b on pairs.record_id_b = records_b.contact_record_id
    left join scores on pairs.record_id_a = scores.record_id_a and pairs.record_id_b = scores.record_id_b
    left join decisions
        on
            least(identity_a.source_record_key, identity_b.source_record_key) = decisions.source_record_key_a
            and greatest(identity_a.source_record_key, identity_b.source_record_key) = decisions.source_record_key_b

)

select * from final
