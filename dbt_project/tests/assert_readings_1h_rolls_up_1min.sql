-- fct_readings_1h must be the exact roll-up of fct_readings_1min: same counts per tag and hour.
with minutes as (
    select
        tag,
        {{ hazchem.ms_floor('minute_start_ms', 3600000) }} as hour_start_ms,
        sum(reading_count) as reading_count,
        sum(bad_quality_count) as bad_quality_count
    from {{ ref('fct_readings_1min') }}
    group by tag, {{ hazchem.ms_floor('minute_start_ms', 3600000) }}
),

hours as (
    select tag, hour_start_ms, reading_count, bad_quality_count
    from {{ ref('fct_readings_1h') }}
)

select
    coalesce(minutes.tag, hours.tag) as tag,
    coalesce(minutes.hour_start_ms, hours.hour_start_ms) as hour_start_ms
from minutes
full outer join hours
    on minutes.tag = hours.tag and minutes.hour_start_ms = hours.hour_start_ms
where
    minutes.tag is null
    or hours.tag is null
    or minutes.reading_count <> hours.reading_count
    or minutes.bad_quality_count <> hours.bad_quality_count
