{#-
    The level of every comparison of dedupe_comparisons() for two match records `a` and
    `b` (relation aliases with the columns of deduped_match_records), as a select list of
    <comparison>_level columns. Used on the candidate pairs (deduped_pair_comparisons), on
    the random pairs the u-probabilities are estimated from (deduped_match_parameters),
    and, for the comparisons the guards read, on the records of a cluster
    (deduped_record_clusters), so all are compared by the same rules.
-#}
{% macro comparison_levels(a, b) %}
    {%- for comparison in dedupe_comparisons() %}
    {{ comparison_level(comparison.name, a, b) }} as {{ comparison.name }}_level{{ "," if not loop.last }}
    {%- endfor %}
{% endmacro %}

{#- one comparison's level for records `a` and `b`: a case expression -#}
{% macro comparison_level(comparison, a, b) %}
    {%- if comparison == 'first_name' %}
    case
        when {{ a }}.first_name_key is null or {{ b }}.first_name_key is null then 'missing'
        when {{ a }}.given_name_key = {{ b }}.given_name_key then 'exact'
        -- first and last name typed into each other's fields
        when {{ a }}.first_name_key = {{ b }}.last_name_key and {{ a }}.last_name_key = {{ b }}.first_name_key then 'swapped'
        when {{ a }}.first_name_key = {{ b }}.first_name_key then 'nickname'
        when
            (length({{ a }}.first_name_key) = 1 and {{ a }}.first_name_key = {{ b }}.first_initial)
            or (length({{ b }}.first_name_key) = 1 and {{ b }}.first_name_key = {{ a }}.first_initial)
            then 'initial'
        when
            {{ name_similarity(a ~ '.first_name_key', b ~ '.first_name_key') }} >= {{ var('dedupe_name_similarity') }}
            then 'similar'
        when
            {{ name_similarity(a ~ '.first_name_key', b ~ '.first_name_key') }}
            >= {{ var('dedupe_name_similarity_low') }}
            then 'similar_low'
        when {{ names_swapped_with_typos(a, b) }} then 'swapped'
        else 'different'
    end
    {%- elif comparison == 'last_name' %}
    case
        when {{ a }}.last_name_key is null or {{ b }}.last_name_key is null then 'missing'
        when {{ a }}.last_name_key = {{ b }}.last_name_key then 'exact'
        when {{ a }}.first_name_key = {{ b }}.last_name_key and {{ a }}.last_name_key = {{ b }}.first_name_key then 'swapped'
        when
            {{ name_similarity(a ~ '.last_name_key', b ~ '.last_name_key') }} >= {{ var('dedupe_name_similarity') }}
            then 'similar'
        when
            {{ name_similarity(a ~ '.last_name_key', b ~ '.last_name_key') }}
            >= {{ var('dedupe_name_similarity_low') }}
            then 'similar_low'
        -- one name is a part of the other (a double name after a marriage, a dropped particle)
        when
            length({{ a }}.last_name_key) >= 3 and length({{ b }}.last_name_key) >= 3
            and (
                instr(' ' || replace({{ b }}.last_name_key, '-', ' ') || ' ', ' ' || {{ a }}.last_name_key || ' ') > 0
                or instr(' ' || replace({{ a }}.last_name_key, '-', ' ') || ' ', ' ' || {{ b }}.last_name_key || ' ') > 0
            )
            then 'partial'
        when {{ names_swapped_with_typos(a, b) }} then 'swapped'
        else 'different'
    end
    {%- elif comparison == 'email' %}
    case
        when {{ a }}.email_key is null or {{ b }}.email_key is null then 'missing'
        when {{ a }}.email_key = {{ b }}.email_key then 'exact'
        when
            {{ a }}.is_work_email and {{ b }}.is_work_email and {{ a }}.email_domain = {{ b }}.email_domain
            then 'same_domain_other_mailbox'
        else 'different'
    end
    {%- elif comparison == 'phone' %}
    case
        when {{ a }}.phone_key is null or {{ b }}.phone_key is null then 'missing'
        when {{ a }}.phone_key = {{ b }}.phone_key then 'exact'
        else 'different'
    end
    {%- elif comparison == 'birth_date' %}
    case
        when {{ a }}.date_of_birth is null or {{ b }}.date_of_birth is null then 'missing'
        when {{ a }}.date_of_birth = {{ b }}.date_of_birth then 'exact'
        -- a typed date with one part wrong, or day and month swapped
        when
            (
                year({{ a }}.date_of_birth) = year({{ b }}.date_of_birth)
                and month({{ a }}.date_of_birth) = day({{ b }}.date_of_birth)
                and day({{ a }}.date_of_birth) = month({{ b }}.date_of_birth)
            )
            or (
                case when year({{ a }}.date_of_birth) = year({{ b }}.date_of_birth) then 1 else 0 end
                + case when month({{ a }}.date_of_birth) = month({{ b }}.date_of_birth) then 1 else 0 end
                + case when day({{ a }}.date_of_birth) = day({{ b }}.date_of_birth) then 1 else 0 end
            ) = 2
            then 'similar'
        else 'different'
    end
    {%- elif comparison == 'address' %}
    case
        when {{ a }}.postal_code = {{ b }}.postal_code and {{ a }}.street_number = {{ b }}.street_number then 'same_house'
        -- the same number on a street spelled alike: a typo or a blank in the postal code
        when
            {{ a }}.street_number = {{ b }}.street_number
            and {{ name_similarity(a ~ '.street_name_key', b ~ '.street_name_key') }} >= {{ var('dedupe_name_similarity') }}
            then 'same_street'
        when {{ a }}.postal_code = {{ b }}.postal_code then 'same_postal_code'
        when {{ a }}.city_key = {{ b }}.city_key then 'same_city'
        -- different only where both give a postal code or both a city
        when
            ({{ a }}.postal_code is not null and {{ b }}.postal_code is not null)
            or ({{ a }}.city_key is not null and {{ b }}.city_key is not null)
            then 'different'
        else 'missing'
    end
    {%- elif comparison == 'company' %}
    case
        when {{ a }}.company_match_key is null or {{ b }}.company_match_key is null then 'missing'
        when {{ a }}.company_match_key = {{ b }}.company_match_key then 'exact'
        when {{ a }}.company_domain = {{ b }}.company_domain then 'same_domain'
        else 'different'
    end
    {%- elif comparison == 'role' %}
    case
        when {{ a }}.job_title_key = {{ b }}.job_title_key then 'same_title'
        when
            {{ a }}.seniority is null or {{ a }}.department is null
            or {{ b }}.seniority is null or {{ b }}.department is null
            then 'missing'
        when {{ a }}.seniority = {{ b }}.seniority and {{ a }}.department = {{ b }}.department then 'same'
        else 'different'
    end
    {%- elif comparison == 'country' %}
    case
        when {{ a }}.country_code is null or {{ b }}.country_code is null then 'missing'
        when {{ a }}.country_code = {{ b }}.country_code then 'same'
        else 'different'
    end
    {%- else %}
    {{ exceptions.raise_compiler_error('comparison_level: no comparison ' ~ comparison) }}
    {%- endif %}
{% endmacro %}

{#-
    First and last name typed into each other's fields, and one of them mistyped as well:
    each name is alike (Jaro-Winkler at or above dedupe_name_similarity) to the other
    record's other name, and at least one initial fits crosswise
-#}
{% macro names_swapped_with_typos(a, b) -%}
    (
        ({{ a }}.first_initial = {{ b }}.last_initial or {{ a }}.last_initial = {{ b }}.first_initial)
        and {{ name_similarity(a ~ '.first_name_key', b ~ '.last_name_key') }} >= {{ var('dedupe_name_similarity') }}
        and {{ name_similarity(a ~ '.last_name_key', b ~ '.first_name_key') }} >= {{ var('dedupe_name_similarity') }}
    )
{%- endmacro %}
