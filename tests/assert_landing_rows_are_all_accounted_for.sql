-- Nothing is lost: for every file load, rows read = rows loaded + rows quarantined,
-- and the load log's counts match the rows actually present (contacts, or suppression
-- entries for a suppression file). An erased person's rows stay counted: `forget`
-- turns them into quarantined rows (reason erased) that keep no text.
-- Returns the file loads that do not add up.

with

file_loads as (

    select * from {{ ref('stg_landing__file_loads') }}

),

contacts as (

    select file_load_id, count(*) as contact_rows
    from (
        select file_load_id from {{ ref('stg_landing__contacts') }}
        union all
        select _file_load_id as file_load_id from {{ source('landing', 'suppressed_emails') }}
    ) as loaded_rows
    group by file_load_id

),

quarantined as (

    select file_load_id, count(*) as quarantined_rows
    from {{ ref('stg_landing__quarantined_rows') }}
    group by file_load_id

),

compared as (

    select
        file_loads.file_load_id,
        file_loads.file_path,
        file_loads.rows_read,
        file_loads.rows_loaded,
        file_loads.rows_quarantined,
        coalesce(contacts.contact_rows, 0) as contact_rows,
        coalesce(quarantined.quarantined_rows, 0) as quarantined_rows
    from file_loads
    left join contacts
        on file_loads.file_load_id = contacts.file_load_id
    left join quarantined
        on file_loads.file_load_id = quarantined.file_load_id
    where file_loads.load_status = 'loaded'

)

select * from compared
where
    rows_read != rows_loaded + rows_quarantined
    or rows_loaded != contact_rows
    or rows_quarantined != quarantined_rows
