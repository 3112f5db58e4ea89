with

contacts as (

    select staged.contact_record_id, staged.company_name, staged.company_website from {{ ref('stg_landing__contacts') }} as staged
    {{ not_cleaned_yet('staged') }}

),

emails as (

    select contact_record_id, is_email_valid, is_free_mail, is_disposable_email, email_domain
    from {{ ref('cleaned_contact_emails') }}

),

company_legal_suffixes as (

    select legal_suffix_key from {{ ref('company_legal_suffixes') }}

),

keyed as (

    select
        contacts.*,
        {{ company_key('contacts.company_name') }} as company_name_key,
        -- the website's host: "https://www.acme.com/contact" -> acme.com
        nullif(regexp_extract(
            lower(trim(contacts.company_website)), '^(?:[a-z]+://)?(?:www[0-9]?[.])?([^/:?# ]+[.][^/:?# ]+)', 1
        ), '') as website_domain
    from contacts

),

-- the longest legal suffix the name ends with ("pty ltd" before "ltd")
suffix_matches as (

    select
        keyed.contact_record_id,
        company_legal_suffixes.legal_suffix_key,
        row_number() over (
            partition by keyed.contact_record_id
            order by length(company_legal_suffixes.legal_suffix_key) desc
        ) as match_rank
    from keyed
    inner join company_legal_suffixes
        on keyed.company_name_key like '% ' || company_legal_suffixes.legal_suffix_key

),

final as (

    select
        keyed.contact_record_id,
        {{ cleaned_lineage_columns() }},
        keyed.company_name as company_name_original,
        nullif(trim({{ regexp_replace_all('keyed.company_name', ' +', ' ') }}), '') as company_name,
        case
            when suffix_matches.legal_suffix_key is not null
                then trim(left(
                    keyed.company_name_key,
                    length(keyed.company_name_key) - length(suffix_matches.legal_suffix_key)
                ))
            else keyed.company_name_key
        end as company_match_key,
        keyed.company_website as company_website_original,
        -- the website's domain, else a corporate (not free-mail, not disposable) email domain
        coalesce(
            keyed.website_domain,
            case
                when emails.is_email_valid and not emails.is_free_mail and not emails.is_disposable_email
                    then emails.email_domain
            end
        ) as company_domain,
        case
            when keyed.website_domain is not null then 'website'
            when emails.is_email_valid and not emails.is_free_mail and not emails.is_disposable_email then 'email'
        end as company_domain_source
    from keyed
    left join suffix_matches
        on
            keyed.contact_record_id = suffix_matches.contact_record_id
            and suffix_matches.match_rank = 1
    left join emails
        on keyed.contact_record_id = emails.contact_record_id

)

select * from final
