with

source as (

    select * from {{ source('landing', 'suppressed_emails') }}

),

renamed as (

    select
        -- a keyed hash (email_hmac) of an address the loader hashed, or a sha256 a client gave
        lower(email_sha256) as email_hash,
        _source_file as source_file_path,
        nullif(trim(reason), '') as reason,
        cast({{ parse_timestamp('suppressed_on') }} as date) as suppressed_on,
        {{ to_utc_timestamp('_loaded_at') }} as loaded_at
    from source

),

-- one row per hash and file, however many loads of the file carried it
final as (

    select
        email_hash,
        source_file_path,
        coalesce(max(reason), 'suppression file') as reason,
        coalesce(min(suppressed_on), cast(min(loaded_at) as date)) as suppressed_on,
        min(loaded_at) as first_loaded_at
    from renamed
    group by email_hash, source_file_path

)

select * from final
