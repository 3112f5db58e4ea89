{#-
    Text date of birth -> date, or null when no known format fits or the date cannot be a
    living person's (before 1900 or in the future).

    Formats: ISO `YYYY-MM-DD`, compact `YYYYMMDD`, `YYYY/MM/DD`, US `M/D/YYYY` (slash dates
    are read as US month/day unless the first number cannot be a month: `31/07/1990`),
    German and European `DD.MM.YYYY`, and an ISO timestamp's date. Engine-specific: dispatched.
-#}
{% macro parse_date_of_birth(column) %}
    {{ return(adapter.dispatch('parse_date_of_birth', 'contact_enrichment')(column)) }}
{% endmacro %}

{% macro default__parse_date_of_birth(column) %}
    {%- set parsed -%}
        cast(try_strptime(left(trim({{ column }}), 10), [
            '%Y-%m-%d', '%Y%m%d', '%Y/%m/%d', '%m/%d/%Y', '%d/%m/%Y', '%d.%m.%Y', '%d-%m-%Y'
        ]) as date)
    {%- endset %}
    case when {{ parsed }} between date '1900-01-01' and current_date then {{ parsed }} end
{% endmacro %}

{% macro spark__parse_date_of_birth(column) %}
    {%- set parsed -%}
        coalesce(
            {%- for fmt in ['yyyy-MM-dd', 'yyyyMMdd', 'yyyy/MM/dd', 'M/d/yyyy', 'd/M/yyyy', 'dd.MM.yyyy', 'dd-MM-yyyy'] %}
            try_to_date(left(trim({{ column }}), 10), '{{ fmt }}'){{ "," if not loop.last }}
            {%- endfor %}
        )
    {%- endset %}
    case when {{ parsed }} between date '1900-01-01' and current_date then {{ parsed }} end
{% endmacro %}
