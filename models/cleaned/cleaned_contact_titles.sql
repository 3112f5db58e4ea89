with

contacts as (

    select staged.contact_record_id, staged.job_title from {{ ref('stg_landing__contacts') }} as staged
    {{ not_cleaned_yet('staged') }}

),

job_title_rules as (

    select rule_type, keyword, value, priority from {{ ref('job_title_rules') }}

),

title_keys as (

    select
        contact_record_id,
        job_title as job_title_original,
        nullif(trim(job_title), '') as job_title,
        {{ title_key('job_title') }} as job_title_key
    from contacts

),

-- each distinct title is classified once, then joined back
distinct_titles as (

    select distinct job_title_key
    from title_keys
    where job_title_key is not null

),

rule_matches as (

    select
        distinct_titles.job_title_key,
        job_title_rules.rule_type,
        job_title_rules.value,
        row_number() over (
            partition by distinct_titles.job_title_key, job_title_rules.rule_type
            order by job_title_rules.priority desc, length(job_title_rules.keyword) desc, job_title_rules.value
        ) as rule_rank
    from distinct_titles
    inner join job_title_rules
        on instr(' ' || distinct_titles.job_title_key || ' ', ' ' || job_title_rules.keyword || ' ') > 0

),

title_classes as (

    select
        job_title_key,
        max(case when rule_type = 'seniority' then value end) as seniority,
        max(case when rule_type = 'department' then value end) as department
    from rule_matches
    where rule_rank = 1
    group by job_title_key

),

final as (

    select
        title_keys.contact_record_id,
        {{ cleaned_lineage_columns() }},
        title_keys.job_title_original,
        title_keys.job_title,
        -- a title that names no level ("Actuary", "Account Executive") says nothing about
        -- seniority: unknown, so enrichment_requests asks a provider for it
        title_classes.seniority,
        title_classes.department
    from title_keys
    left join title_classes
        on title_keys.job_title_key = title_classes.job_title_key

)

select * from final
