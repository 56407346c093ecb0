-- One row per hidden danger state (danger_id + state time), first landed copy kept.
with source as (
    select * from {{ source('bronze', 'hidden_dangers') }}
),

ranked as (
    select
        source.*,
        row_number() over (
            partition by danger_id, event_time_ms
            order by _ingested_at, _partition, _offset
        ) as copy_number
    from source
),

renamed as (
    select
        danger_id,
        event_time_ms,
        {{ hazchem.ms_to_timestamp('event_time_ms') }} as event_at,
        enterprise_code,
        area_code,
        hazard_source_code,
        title,
        level as danger_level,
        source as found_via,
        found_by,
        found_at_ms,
        deadline_ms,
        status,
        liable_person,
        measures,
        accepted_at_ms,
        event_date,
        _ingested_at as ingested_at
    from ranked
    where copy_number = 1
)

select * from renamed
