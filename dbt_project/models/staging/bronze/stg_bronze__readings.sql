-- One row per tag per event time (位号 + 采集时间): the first landed copy of a re-sent reading.
with source as (
    select * from {{ source('bronze', 'readings') }}
),

ranked as (
    select
        source.*,
        row_number() over (
            partition by tag, event_time_ms
            order by _ingested_at, _partition, _offset
        ) as copy_number
    from source
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
    from ranked
    where copy_number = 1
)

select * from renamed
