-- One row per alarm transition (event_id): replays and restarts re-emit the same event_id, the
-- first landed copy is kept. is_annunciated: shown to the operator (false when shelved or
-- suppressed by unit state); alarm_event.v1 records carry no flag and count as annunciated.
with source as (
    select * from {{ source('bronze', 'alarms') }}
),

first_copies as (
    {{ hazchem.first_landed_copy('source', ['event_id']) }}
),

renamed as (
    select
        event_id,
        episode_id,
        enterprise_code,
        hazard_source_code,
        unit_code,
        area_code,
        tag,
        condition,
        alarm_class,
        event,
        "limit" as limit_value,
        value,
        unit,
        priority,
        event_time_ms,
        {{ hazchem.ms_to_timestamp('event_time_ms') }} as event_at,
        reading_event_time_ms,
        emitted_at_ms,
        coalesce(annunciated, true) as is_annunciated,
        suppressed_by,
        state as state_after,
        event_date,
        _ingested_at as ingested_at
    from first_copies
)

select * from renamed
