-- Contacts whose address is in the United States or Canada.

select contact_id
from {{ ref('dim_contacts') }}
where country_code in ('US', 'CA')
