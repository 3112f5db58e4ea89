{#-
    Fails with every metric of the latest set in `model` (pipeline_metrics) that breaks its
    `level` ('warn' or 'error') limit in `thresholds` (the monitoring_thresholds seed):
      - min / max: the value itself is below / above the limit;
      - max_drop / max_spike: the value fell / rose by more than the limit (a share) against
        the average of the `recent_runs` sets before it, once that average reaches the
        threshold's min_baseline. With no history nothing is compared.
    Nothing is judged while the landing data holds fewer than `min_landing_rows` rows (the
    monitoring_min_landing_rows var): a handful of test records swings every share.
    A threshold's dimension '*' applies to every dimension of its metric; a row naming the
    dimension overrides it (with empty limits: no check). Declare the test twice, with
    severity warn and error, so a bad night warns or stops the build.
-#}
{% test metric_thresholds(model, thresholds, level, recent_runs=7, min_landing_rows=none) %}
{%- set min_landing_rows = var('monitoring_min_landing_rows') if min_landing_rows is none else min_landing_rows %}
{%- set limit_column = 'warn_value' if level == 'warn' else 'error_value' %}

with

metrics as (

    select * from {{ model }}

),

runs as (

    select
        invocation_id,
        row_number() over (order by max(measured_at) desc, invocation_id desc) as run_rank
    from metrics
    group by invocation_id

),

latest as (

    select metrics.*
    from metrics
    inner join runs on metrics.invocation_id = runs.invocation_id
    where runs.run_rank = 1

),

recent as (

    select
        metrics.metric_group,
        metrics.metric_name,
        metrics.dimension,
        avg(metrics.metric_value) as recent_average,
        count(*) as recent_runs
    from metrics
    inner join runs on metrics.invocation_id = runs.invocation_id
    where runs.run_rank between 2 and {{ recent_runs + 1 }}
    group by metrics.metric_group, metrics.metric_name, metrics.dimension

),

limits as (

    select
        metric_group,
        metric_name,
        dimension,
        check_type,
        {{ limit_column }} as limit_value,
        coalesce(min_baseline, 0) as min_baseline,
        explanation
    from {{ thresholds }}

),

-- per metric, dimension and check the most specific threshold row applies: a row for the
-- dimension itself overrides the `*` row (and, with empty limits, switches the check off)
applicable as (

    select
        latest.metric_group,
        latest.metric_name,
        latest.dimension,
        latest.metric_value,
        limits.check_type,
        limits.limit_value,
        limits.min_baseline,
        limits.explanation,
        row_number() over (
            partition by latest.metric_group, latest.metric_name, latest.dimension, limits.check_type
            order by case when limits.dimension = '*' then 1 else 0 end
        ) as specificity_rank
    from latest
    inner join limits
        on
            latest.metric_group = limits.metric_group
            and latest.metric_name = limits.metric_name
            and (limits.dimension = '*' or limits.dimension = latest.dimension)

),

checked as (

    select
        applicable.metric_group,
        applicable.metric_name,
        applicable.dimension,
        applicable.metric_value,
        recent.recent_average,
        applicable.check_type,
        applicable.limit_value,
        applicable.explanation,
        case applicable.check_type
            when 'min' then applicable.metric_value < applicable.limit_value
            when 'max' then applicable.metric_value > applicable.limit_value
            when 'max_drop' then
                recent.recent_average > 0
                and recent.recent_average >= applicable.min_baseline
                and applicable.metric_value < recent.recent_average * (1 - applicable.limit_value)
            when 'max_spike' then
                recent.recent_average > 0
                and recent.recent_average >= applicable.min_baseline
                and applicable.metric_value > recent.recent_average * (1 + applicable.limit_value)
        end as is_breached
    from applicable
    left join recent
        on
            applicable.metric_group = recent.metric_group
            and applicable.metric_name = recent.metric_name
            and applicable.dimension = recent.dimension
    where
        applicable.specificity_rank = 1
        and applicable.limit_value is not null
        and (
            select max(landing.metric_value) from latest as landing
            where landing.metric_group = 'volume' and landing.metric_name = 'rows' and landing.dimension = 'landing'
        ) >= {{ min_landing_rows }}

)

select * from checked
where is_breached

{% endtest %}
