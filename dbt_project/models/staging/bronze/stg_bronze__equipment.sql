-- One row per equipment item state (equipment_id + state time), first landed copy kept.
with source as (
    select * from {{ source('bronze', 'equipment') }}
),

first_copies as (
    {{ hazchem.first_landed_copy('source', ['equipment_id', 'event_time_ms']) }}
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
    from first_copies
)

select * from renamed
