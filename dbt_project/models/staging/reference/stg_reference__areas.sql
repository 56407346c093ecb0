-- One row per area (区域): alarm console and positioning fence.
with source as (
    select * from {{ source('reference', 'areas') }}
),

renamed as (
    select
        area_code,
        enterprise_code,
        name as area_name,
        name_en as area_name_en,
        unit_code,
        hazard_source_code,
        headcount_limit,
        is_fire_explosion_area,
        floor as floor_number,
        polygon as polygon_json
    from source
)

select * from renamed
