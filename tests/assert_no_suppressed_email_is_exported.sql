-- No exported address is on the suppression list (seed, suppression files, erasures).
-- Returns the exported rows whose address is.

select exported.segment_name, exported.contact_id
from {{ ref('campaign_export_contacts') }} as exported
inner join {{ ref('suppression_list') }} as suppression_list
    on {{ sha256_hex('lower(trim(exported.email_address))') }} = suppression_list.email_sha256
