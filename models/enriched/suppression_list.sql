-- Every address that must never be enriched or exported, as a hash of the lower-cased,
-- trimmed address: the suppressed_emails seed (plain sha256, analysts edit it) and the
-- landing folder's suppression files (keyed hashes of the addresses the loader hashed,
-- plain sha256 a client supplied), including the erasures `contacts forget`
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
        lower(email_sha256) as email_hash,
        'seed: suppressed_emails' as listed_in,
        reason,
        suppressed_on
    from seed_entries

    union all

    select
        email_hash,
        source_file_path as listed_in,
        reason,
        suppressed_on
    from landing_entries

)

select * from final
