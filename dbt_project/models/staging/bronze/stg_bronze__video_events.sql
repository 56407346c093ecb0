-- One row per video-analytics event (event_id), first landed copy kept.
with source as (
    select * from {{ source('bronze', 'video_events') }}
),

first_copies as (
    {{ hazchem.first_landed_copy('source', ['event_id']) }}
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
    from first_copies
)

select * from renamed
