{#-
    Text timestamp -> timestamp (UTC, without time zone), or null when no known format fits.

    Accepts the formats CRM exports and APIs use: ISO 8601 with or without a zone and
    fractions of a second (HubSpot's `2026-01-02T03:04:05.678Z`, Salesforce's
    `2026-01-02T03:04:05.678+0000`), `YYYY-MM-DD HH:MM`,
    US `M/D/YYYY h:mm AM`, German `DD.MM.YYYY HH:MM`, and the same without a time.
    Slash dates are read as US month/day. Engine-specific: dispatched.
-#}
{% macro parse_timestamp(column) %}
    {{ return(adapter.dispatch('parse_timestamp', 'contact_enrichment')(column)) }}
{% endmacro %}

{% macro default__parse_timestamp(column) %}
    coalesce(
        try_strptime(trim({{ column }}), [
            '%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M', '%Y-%m-%dT%H:%M:%SZ', '%Y-%m-%dT%H:%M:%S.%fZ', '%Y-%m-%dT%H:%M:%S',
            '%m/%d/%Y %I:%M %p', '%m/%d/%Y %H:%M', '%d.%m.%Y %H:%M', '%d.%m.%Y %H:%M:%S',
            '%Y-%m-%d', '%m/%d/%Y', '%d.%m.%Y'
        ]),
        timezone('UTC', try_strptime(trim({{ column }}), [
            '%Y-%m-%dT%H:%M:%S.%f%z', '%Y-%m-%dT%H:%M:%S%z', '%Y-%m-%d %H:%M:%S%z', '%Y-%m-%d %H:%M:%S.%f%z'
        ]))
    )
{% endmacro %}

{% macro spark__parse_timestamp(column) %}
    coalesce(
        {%- for fmt in [
            'yyyy-MM-dd HH:mm:ss', 'yyyy-MM-dd HH:mm', "yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'",
            "yyyy-MM-dd'T'HH:mm:ss",
            'M/d/yyyy h:mm a', 'M/d/yyyy H:mm', 'dd.MM.yyyy HH:mm', 'dd.MM.yyyy HH:mm:ss',
            "yyyy-MM-dd'T'HH:mm:ss.SSSSSSZ", "yyyy-MM-dd'T'HH:mm:ssZ",
            'yyyy-MM-dd', 'M/d/yyyy', 'dd.MM.yyyy'
        ] %}
        {#- a quote inside a Spark string literal is escaped with a backslash #}
        try_to_timestamp(trim({{ column }}), '{{ fmt | replace("'", "\\'") }}'){{ "," if not loop.last }}
        {%- endfor %}
    )
{% endmacro %}
