{{
    config(
        materialized='incremental',
        unique_key=['tag', 'minute_start_ms'],
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
-- One row per tag per UTC minute with at least one reading. Value statistics are over good
-- readings (quality 'good' and a value); bad_quality_count counts the others. value_last is the
-- good value with the latest event time. Incremental runs recompute, whole, every minute that
-- received a reading since the last run (late readings included).
with readings as (
    select * from {{ ref('stg_bronze__readings') }}
),

{% if is_incremental() %}
touched as (
    select distinct
        tag,
        {{ hazchem.ms_floor('event_time_ms', 60000) }} as minute_start_ms,
        event_date
    from readings
    where
        (select max(last_ingested_at) from {{ this }}) is null
        or ingested_at >= (select max(last_ingested_at) from {{ this }})
),

scoped as (
    select readings.*
    from readings
    inner join (select distinct tag, minute_start_ms from touched) as touched_minutes
        on
            readings.tag = touched_minutes.tag
            and {{ hazchem.ms_floor('readings.event_time_ms', 60000) }}
            = touched_minutes.minute_start_ms
    where readings.event_date >= (select min(event_date) from touched)
),
{% else %}
scoped as (
    select * from readings
),
{% endif %}

classified as (
    select
        tag,
        {{ hazchem.ms_floor('event_time_ms', 60000) }} as minute_start_ms,
        event_time_ms,
        is_bad_quality,
        case when not is_bad_quality then value end as good_value,
        case when not is_bad_quality then event_time_ms end as good_event_time_ms,
        ingested_at
    from scoped
),

aggregated as (
    select
        tag,
        minute_start_ms,
        count(*) as reading_count,
        count(good_value) as good_count,
        sum(case when is_bad_quality then 1 else 0 end) as bad_quality_count,
        min(good_value) as value_min,
        max(good_value) as value_max,
        sum(good_value) as value_sum,
        {{ hazchem.value_at_max('good_value', 'good_event_time_ms') }} as value_last,
        max(good_event_time_ms) as last_good_event_time_ms,
        max(event_time_ms) as last_event_time_ms,
        max(ingested_at) as last_ingested_at
    from classified
    group by tag, minute_start_ms
),

final as (
    select
        tag,
        minute_start_ms,
        {{ hazchem.ms_to_timestamp('minute_start_ms') }} as minute_start_at,
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
