-- One row per equipment item named by the plant model's tags (设备).
with source as (
    select * from {{ source('reference', 'equipment') }}
),

renamed as (
    select
        equipment_id,
        enterprise_code,
        unit_code,
        area_code,
        hazard_source_code,
        tag_count
    from source
)

select * from renamed
