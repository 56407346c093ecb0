-- One row per video-analytics event (event_id), first landed copy kept.
with source as (
    select * from {{ source('bronze', 'video_events') }}
),

ranked as (
    select
        source.*,
        row_number() over (
            partition by event_id
            order by _ingested_at, _partition, _offset
        ) as copy_number
    from source
),

renamed as (
    select
        event_id,
        enterprise_code,
        camera_id,
        area_code,
        hazard_source_code,
        event_type,
        confidence,
        event_time_ms,
        {{ hazchem.ms_to_timestamp('event_time_ms') }} as event_at,
        snapshot_uri,
        event_date,
        _ingested_at as ingested_at
    from ranked
    where copy_number = 1
)

select * from renamed
