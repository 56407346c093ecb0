{{
    config(
        materialized='incremental',
        unique_key=['tag', 'hour_start_ms'],
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
-- One row per tag per UTC hour with at least one reading, rolled up from fct_readings_1min
-- (same definitions: statistics over good readings, value_last = latest good value). Incremental
-- runs recompute every hour holding a minute that was recomputed since the last run.
with minutes as (
    select * from {{ ref('fct_readings_1min') }}
),

{% if is_incremental() %}
touched as (
    select distinct
        tag,
        {{ hazchem.ms_floor('minute_start_ms', 3600000) }} as hour_start_ms
    from minutes
    where
        (select max(last_ingested_at) from {{ this }}) is null
        or last_ingested_at >= (select max(last_ingested_at) from {{ this }})
),

scoped as (
    select minutes.*
    from minutes
    inner join touched
        on
            minutes.tag = touched.tag
            and {{ hazchem.ms_floor('minutes.minute_start_ms', 3600000) }} = touched.hour_start_ms
),
{% else %}
scoped as (
    select * from minutes
),
{% endif %}

aggregated as (
    select
        tag,
        {{ hazchem.ms_floor('minute_start_ms', 3600000) }} as hour_start_ms,
        sum(reading_count) as reading_count,
        sum(good_count) as good_count,
        sum(bad_quality_count) as bad_quality_count,
        min(value_min) as value_min,
        max(value_max) as value_max,
        sum(value_sum) as value_sum,
        {{ hazchem.value_at_max('value_last', 'last_good_event_time_ms') }} as value_last,
        max(last_good_event_time_ms) as last_good_event_time_ms,
        max(last_event_time_ms) as last_event_time_ms,
        max(last_ingested_at) as last_ingested_at
    from scoped
    group by tag, {{ hazchem.ms_floor('minute_start_ms', 3600000) }}
),

final as (
    select
        tag,
        hour_start_ms,
        {{ hazchem.ms_to_timestamp('hour_start_ms') }} as hour_start_at,
        reading_count,
        good_count,
        bad_quality_count,
        value_min,
        value_max,
        value_sum / nullif(good_count, 0) as value_avg,
        value_last,
        value_sum,
        last_good_event_time_ms,
        last_event_time_ms,
        last_ingested_at
    from aggregated
)

select * from final
