-- One row per equipment item: its latest state on the `equipment` topic (设备台账).
with states as (
    select * from {{ ref('stg_bronze__equipment') }}
),

ranked as (
    select
        states.*,
        row_number() over (
            partition by equipment_id
            order by event_time_ms desc, ingested_at desc
        ) as recency
    from states
),

current_state as (
    select
        equipment_id,
        enterprise_code,
        unit_code,
        area_code,
        hazard_source_code,
        equipment_name,
        equipment_type,
        tag,
        design_pressure_mpa,
        last_calibration_ms,
        next_calibration_due_ms,
        replacement_due_ms,
        status,
        event_time_ms as state_time_ms
    from ranked
    where recency = 1
)

select * from current_state
