-- VPs and C-level people at companies of more than 1,000 employees.

with

contacts as (

    select * from {{ ref('dim_contacts') }}

),

large_company_bands as (

    select company_size_band from {{ ref('company_size_bands') }}
    where min_employees > 1000

)

select contacts.contact_id
from contacts
inner join large_company_bands on contacts.company_size_band = large_company_bands.company_size_band
where contacts.seniority in ('vp', 'c_level')
