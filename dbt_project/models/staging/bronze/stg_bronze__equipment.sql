-- One row per equipment item state (equipment_id + state time), first landed copy kept.
with source as (
    select * from {{ source('bronze', 'equipment') }}
),

ranked as (
    select
        source.*,
        row_number() over (
            partition by equipment_id, event_time_ms
            order by _ingested_at, _partition, _offset
        ) as copy_number
    from source
),

renamed as (
    select
        equipment_id,
        event_time_ms,
        {{ hazchem.ms_to_timestamp('event_time_ms') }} as event_at,
        enterprise_code,
        unit_code,
        area_code,
        hazard_source_code,
        name as equipment_name,
        equipment_type,
        tag,
        design_pressure_mpa,
        last_calibration_ms,
        next_calibration_due_ms,
        replacement_due_ms,
        status,
        event_date,
        _ingested_at as ingested_at
    from ranked
    where copy_number = 1
)

select * from renamed
