-- One row per gas analysis sample and gas (analysis_id), first landed copy kept.
with source as (
    select * from {{ source('bronze', 'work_gas_analyses') }}
),

first_copies as (
    {{ hazchem.first_landed_copy('source', ['analysis_id']) }}
),

renamed as (
    select
        analysis_id,
        permit_id,
        enterprise_code,
        sample_point,
        distance_to_work_point_m,
        gas,
        measured_value,
        measured_unit,
        lel_pct_of_gas,
        oxygen_pct,
        analyst,
        sampled_at_ms,
        {{ hazchem.ms_to_timestamp('sampled_at_ms') }} as sampled_at,
        passed as is_passed,
        event_date,
        _ingested_at as ingested_at
    from first_copies
)

select * from renamed
