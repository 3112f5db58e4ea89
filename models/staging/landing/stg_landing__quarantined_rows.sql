with

source as (

    select * from {{ source('landing', 'quarantined_rows') }}

),

renamed as (

    select
        -- ids
        quarantine_key as quarantined_row_id,
        _file_load_id as file_load_id,

        -- where the row was
        _source_file as source_file_path,
        _source_file_sha256 as source_file_sha256,
        _source_row_number as source_row_number,
        _source_line_number as source_line_number,

        -- why it was set aside
        reason_code,
        reason,
        raw_text,

        -- timestamps
        {{ to_utc_timestamp('_loaded_at') }} as loaded_at,

        -- lineage
        _dlt_load_id as dlt_load_id

    from source

)

select * from renamed
