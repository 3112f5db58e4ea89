-- No exported address is on the suppression list (seed, suppression files, erasures).
-- Returns the exported rows whose address is. Its failures are not kept as a view: the
-- keyed hash is a Python function that only dbt's connections have, so such a view could
-- not be queried from another DuckDB session.
{{ config(store_failures_as='ephemeral') }}

with

exported_hashes as (

    select segment_name, contact_id, {{ sha256_hex('lower(trim(email_address))') }} as email_hash
    from {{ ref('campaign_export_contacts') }}
    union all
    select segment_name, contact_id, {{ keyed_email_hash('email_address') }} as email_hash
    from {{ ref('campaign_export_contacts') }}

)

select exported_hashes.segment_name, exported_hashes.contact_id
from exported_hashes
inner join {{ ref('suppression_list') }} as suppression_list
    on exported_hashes.email_hash = suppression_list.email_hash
