-- One row per special-work permit state (permit_id + state time), first landed copy kept.
with source as (
    select * from {{ source('bronze', 'work_permits') }}
),

first_copies as (
    {{ hazchem.first_landed_copy('source', ['permit_id', 'event_time_ms']) }}
),

renamed as (
    select
        permit_id,
        event_time_ms,
        {{ hazchem.ms_to_timestamp('event_time_ms') }} as event_at,
        enterprise_code,
        work_type,
        hot_work_level,
        area_code,
        unit_code,
        hazard_source_code,
        location,
        x_m,
        y_m,
        planned_start_ms,
        planned_end_ms,
        actual_start_ms,
        actual_end_ms,
        status,
        applicant,
        approver,
        guardian,
        contractor_id,
        workers as workers_json,
        {{ hazchem.json_array_size('workers') }} as worker_count,
        lifting_weight_t,
        height_m,
        on_holiday_or_night,
        event_date,
        _ingested_at as ingested_at
    from first_copies
)

select * from renamed
