-- One row per tag (位号) of the plant model, limits and priorities flattened as in stg_bronze__tags.
with source as (
    select * from {{ source('reference', 'tags') }}
),

renamed as (
    select
        tag,
        enterprise_code,
        hazard_source_code,
        unit_code,
        area_code,
        description,
        kind,
        metric_code,
        unit,
        gas,
        range_low,
        range_high,
        cast({{ hazchem.json_member_text('limits', 'll') }} as double) as limit_ll,
        cast({{ hazchem.json_member_text('limits', 'l') }} as double) as limit_l,
        cast({{ hazchem.json_member_text('limits', 'h') }} as double) as limit_h,
        cast({{ hazchem.json_member_text('limits', 'hh') }} as double) as limit_hh,
        deadband,
        delay_on_s,
        delay_off_s,
        roc_per_min,
        {{ hazchem.json_member_text('priority', 'll') }} as priority_ll,
        {{ hazchem.json_member_text('priority', 'l') }} as priority_l,
        {{ hazchem.json_member_text('priority', 'h') }} as priority_h,
        {{ hazchem.json_member_text('priority', 'hh') }} as priority_hh,
        {{ hazchem.json_member_text('priority', 'roc') }} as priority_roc,
        expected_interval_s,
        stale_after_s,
        flatline_after_s,
        x_m,
        y_m,
        equipment_id,
        normal_value
    from source
)

select * from renamed
