{{
    config(
        materialized='incremental',
        unique_key=['record_id_a', 'record_id_b']
    )
}}

-- The field-by-field comparison of each candidate pair: one level per comparison of the
-- match model (dedupe_comparisons macro, levels by comparison_levels), the expensive part
-- of matching (string similarities), so it is incremental. A run compares only pairs it
-- has not compared yet, pairs where a record was (re)cleaned since, and every pair after
-- the deduped rules changed (deduped_rules_checksum); everything that depends on the whole
-- data set (the weights, how common a value is, whether a number is a switchboard) is
-- applied later, in deduped_pair_scores, so a nightly run equals a full rebuild.

{%- set comparisons = dedupe_comparisons() %}

with

candidates as (

    select * from {{ ref('deduped_candidate_pairs') }}
    -- pairs with a record (re)matched since the last comparisons under the current
    -- rules (every pair on a full build, or when the rules changed)
    where
        is_candidate
        and records_cleaned_at > {{
            watermark('records_cleaned_at')
            if is_incremental() else "cast('1900-01-01' as timestamp)"
        }}

),

records as (

    select * from {{ ref('deduped_match_records') }}

),

compared as (

    select
        candidates.record_id_a,
        candidates.record_id_b,
        {{ comparison_levels('record_a', 'record_b') }},

        -- the value each exact level is about, for the term-frequency adjustments
        record_a.given_name_key as given_name_value,
        record_a.last_name_key as last_name_value,
        record_a.email_key as email_value,
        record_a.phone_key as phone_value,
        concat_ws('|', record_a.postal_code, record_a.street_number) as house_value,
        record_a.company_match_key as company_value,

        -- what was compared, for reading a decision and for the shared-value checks
        {{ name_similarity('record_a.first_name_key', 'record_b.first_name_key') }} as first_name_similarity,
        {{ name_similarity('record_a.last_name_key', 'record_b.last_name_key') }} as last_name_similarity,
        record_a.email_key as email_a,
        record_b.email_key as email_b,
        record_a.phone_key as phone_a,
        record_b.phone_key as phone_b,
        record_a.first_name_key as first_name_a,
        record_b.first_name_key as first_name_b,
        record_a.last_name_key as last_name_a,
        record_b.last_name_key as last_name_b,
        record_a.company_match_key as company_key_a,
        record_b.company_match_key as company_key_b,

        -- lineage
        candidates.records_cleaned_at
    from candidates
    inner join records as record_a on candidates.record_id_a = record_a.contact_record_id
    inner join records as record_b on candidates.record_id_b = record_b.contact_record_id

),

final as (

    select
        record_id_a,
        record_id_b,
        {% for comparison in comparisons %}
            {{ comparison.name }}_level,
        {% endfor %}
        -- the value behind an exact level (null otherwise)
        case when first_name_level = 'exact' then given_name_value end as first_name_tf_value,
        case when last_name_level = 'exact' then last_name_value end as last_name_tf_value,
        case when email_level = 'exact' then email_value end as email_tf_value,
        case when phone_level = 'exact' then phone_value end as phone_tf_value,
        case when address_level = 'same_house' then house_value end as address_tf_value,
        case when company_level = 'exact' then company_value end as company_tf_value,
        first_name_similarity,
        last_name_similarity,
        email_a,
        email_b,
        phone_a,
        phone_b,
        first_name_a,
        first_name_b,
        last_name_a,
        last_name_b,
        company_key_a,
        company_key_b,
        records_cleaned_at,
        '{{ deduped_rules_checksum() }}' as rules_checksum,
        current_timestamp as compared_at
    from compared

)

select * from final
