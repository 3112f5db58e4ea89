-- A view, like the rest of this folder: the exports read every segment as it was last
-- built (the segments' post-hooks keep the membership log these views read), and
-- `dbt build --select my_segment+` reaches this model through segment_catalog.

-- The rows the campaign exports are written from (contacts export): one row
-- per (segment, contact) that may be contacted, with the columns a campaign tool needs.
-- Opted-out and suppressed contacts never get here, nor contacts without a valid e-mail
-- address (campaign tools key on it).

with

memberships as (

    select * from {{ ref('segment_memberships') }}

),

contacts as (

    select * from {{ ref('dim_contacts') }}

),

final as (

    select
        -- ids
        memberships.segment_name,
        contacts.contact_id,

        -- who
        contacts.email_address,
        contacts.salutation,
        contacts.first_name,
        contacts.last_name,
        contacts.phone_e164,

        -- role and company
        contacts.job_title,
        contacts.seniority,
        contacts.department,
        contacts.company_name,
        contacts.company_domain,
        contacts.company_size_band,
        contacts.industry,

        -- where
        contacts.city,
        contacts.state_code,
        contacts.postal_code,
        contacts.country_code,

        -- consent, at the time of the export
        contacts.is_opted_out,
        contacts.is_suppressed,

        -- quality
        contacts.completeness_score,
        memberships.entered_at as in_segment_since

    from memberships
    inner join contacts on memberships.contact_id = contacts.contact_id
    where contacts.can_be_contacted and contacts.is_email_valid

)

select * from final
