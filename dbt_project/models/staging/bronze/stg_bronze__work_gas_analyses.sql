-- One row per gas analysis sample and gas (analysis_id), first landed copy kept.
with source as (
    select * from {{ source('bronze', 'work_gas_analyses') }}
),

ranked as (
    select
        source.*,
        row_number() over (
            partition by analysis_id
            order by _ingested_at, _partition, _offset
        ) as copy_number
    from source
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
    from ranked
    where copy_number = 1
)

select * from renamed
