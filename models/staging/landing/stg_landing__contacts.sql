with

source as (

    select * from {{ source('landing', 'contacts') }}

),

renamed as (

    select
        -- ids
        concat_ws('-', _file_load_id, cast(_source_row_number as {{ dbt.type_string() }})) as contact_record_id,
        _file_load_id as file_load_id,
        source_system,
        source_record_id,

        -- names (as exported; cleaning is the cleaned layer's job)
        salutation,
        first_name,
        last_name,
        full_name,

        -- contact points
        email,
        phone,

        -- company and role
        company as company_name,
        company_website,
        job_title,

        -- postal address
        street as street_line_1,
        street2 as street_line_2,
        city,
        state,
        postal_code,
        country,

        -- date of birth, as exported (parsed in the cleaned layer)
        date_of_birth as date_of_birth_text,

        -- consent
        opted_out as opted_out_text,
        {{ parse_boolean('opted_out') }} as is_opted_out,

        -- deleted in its CRM (a version read by API: HubSpot's archived, Salesforce's IsDeleted)
        coalesce({{ parse_boolean('deleted') }}, false) as is_deleted_in_source,

        -- timestamps
        updated_at as source_updated_at_text,
        {{ parse_timestamp('updated_at') }} as source_updated_at,
        {{ to_utc_timestamp('_loaded_at') }} as loaded_at,

        -- lineage
        _source_file as source_file_path,
        _source_row_number as source_row_number,
        _source_line_number as source_line_number,
        _dlt_load_id as dlt_load_id,
        extra_fields as extra_fields_json

    from source

)

select * from renamed
