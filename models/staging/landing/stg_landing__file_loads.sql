with

source as (

    select * from {{ source('landing', 'file_loads') }}

),

renamed as (

    select
        -- ids
        file_load_id,
        source_system,

        -- the file
        file_path,
        file_sha256,
        file_size_bytes,
        file_format,
        encoding as file_encoding,
        delimiter as csv_delimiter,
        column_mapping as column_mapping_json,
        -- a page read from a CRM's API (file_format api): the cursor range it covers
        api_cursor as api_cursor_json,

        -- accounting
        rows_read,
        rows_loaded,
        rows_quarantined,
        status as load_status,
        error_message,

        -- timestamps
        {{ to_utc_timestamp('file_modified_at') }} as file_modified_at,
        {{ to_utc_timestamp('started_at') }} as started_at,
        {{ to_utc_timestamp('finished_at') }} as finished_at,
        {{ to_utc_timestamp('_loaded_at') }} as loaded_at,

        -- lineage
        _dlt_load_id as dlt_load_id

    from source

)

select * from renamed
