-- Every address that must never be enriched or exported, as the sha256 of the
-- lower-cased, trimmed address: the suppressed_emails seed (analysts edit it) and the
-- landing folder's suppression files, including the erasures `python -m ingestion forget`
-- records. One row per (address hash, list it is on).

with

seed_entries as (

    select * from {{ ref('suppressed_emails') }}

),

landing_entries as (

    select * from {{ ref('stg_landing__suppressed_emails') }}

),

final as (

    select
        lower(email_sha256) as email_sha256,
        'seed: suppressed_emails' as listed_in,
        reason,
        suppressed_on
    from seed_entries

    union all

    select
        email_sha256,
        source_file_path as listed_in,
        reason,
        suppressed_on
    from landing_entries

)

select * from final
