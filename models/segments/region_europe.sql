-- Contacts whose address is in the EU, the EEA, Switzerland or the United Kingdom
-- (the countries the agency runs European campaigns in).

select contact_id
from {{ ref('dim_contacts') }}
where country_code in (
    'AT', 'BE', 'CH', 'DE', 'DK', 'ES', 'FI', 'FR', 'GB', 'IE', 'IT', 'NL', 'NO', 'PL', 'PT', 'SE'
)
