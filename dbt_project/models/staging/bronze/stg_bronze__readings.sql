-- One row per tag per event time (位号 + 采集时间): the first landed copy of a re-sent reading.
with source as (
    select * from {{ source('bronze', 'readings') }}
),

first_copies as (
    {{ hazchem.first_landed_copy('source', ['tag', 'event_time_ms']) }}
),

renamed as (
    select
        tag,
        event_time_ms,
        {{ hazchem.ms_to_timestamp('event_time_ms') }} as event_at,
        enterprise_code,
        hazard_source_code,
        unit_code,
        metric_code,
        value,
        unit,
        quality,
        (quality <> 'good' or value is null) as is_bad_quality,
        event_date,
        _ingested_at as ingested_at
    from first_copies
)

select * from renamed
