-- Marketing managers and above at companies of up to 200 employees.

with

contacts as (

    select * from {{ ref('dim_contacts') }}

),

small_company_bands as (

    select company_size_band from {{ ref('company_size_bands') }}
    where max_employees <= 200

)

select contacts.contact_id
from contacts
inner join small_company_bands on contacts.company_size_band = small_company_bands.company_size_band
where
    contacts.department = 'marketing'
    and contacts.seniority in ('manager', 'director', 'vp', 'c_level')
