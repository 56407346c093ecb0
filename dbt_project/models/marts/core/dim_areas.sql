-- One row per area (区域): alarm console and positioning fence, with its unit, hazard source and
-- how many tags and cameras it holds.
with areas as (
    select * from {{ ref('stg_reference__areas') }}
),

units as (
    select * from {{ ref('stg_reference__units') }}
),

hazard_sources as (
    select * from {{ ref('stg_reference__hazard_sources') }}
),

tag_counts as (
    select
        area_code,
        count(*) as tag_count
    from {{ ref('int_tag_configs_current') }}
    group by area_code
),

camera_counts as (
    select
        area_code,
        count(*) as camera_count
    from {{ ref('stg_reference__cameras') }}
    group by area_code
),

final as (
    select
        areas.area_code,
        areas.enterprise_code,
        areas.area_name,
        areas.area_name_en,
        areas.unit_code,
        units.unit_name,
        units.unit_type,
        areas.hazard_source_code,
        hazard_sources.hazard_source_name,
        areas.headcount_limit,
        areas.is_fire_explosion_area,
        areas.floor_number,
        coalesce(tag_counts.tag_count, 0) as tag_count,
        coalesce(camera_counts.camera_count, 0) as camera_count,
        areas.polygon_json
    from areas
    left join units
        on areas.unit_code = units.unit_code
    left join hazard_sources
        on areas.hazard_source_code = hazard_sources.hazard_source_code
    left join tag_counts
        on areas.area_code = tag_counts.area_code
    left join camera_counts
        on areas.area_code = camera_counts.area_code
)

select * from final
