-- One row per tag (位号): its current configuration (tags topic, else plant model) with the
-- names of its area, unit, hazard source and equipment.
with configs as (
    select * from {{ ref('int_tag_configs_current') }}
),

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

units as (
    select * from {{ ref('stg_reference__units') }}
),

hazard_sources as (
    select * from {{ ref('stg_reference__hazard_sources') }}
),

final as (
    select
        configs.tag,
        configs.config_source,
        configs.enterprise_code,
        configs.description,
        configs.kind,
        configs.metric_code,
        configs.unit,
        configs.gas,
        configs.area_code,
        areas.area_name,
        configs.unit_code,
        units.unit_name,
        configs.hazard_source_code,
        hazard_sources.hazard_source_name,
        configs.equipment_id,
        configs.range_low,
        configs.range_high,
        configs.limit_ll,
        configs.limit_l,
        configs.limit_h,
        configs.limit_hh,
        configs.deadband,
        configs.delay_on_s,
        configs.delay_off_s,
        configs.roc_per_min,
        configs.priority_ll,
        configs.priority_l,
        configs.priority_h,
        configs.priority_hh,
        configs.priority_roc,
        configs.expected_interval_s,
        configs.stale_after_s,
        configs.flatline_after_s,
        configs.normal_value,
        configs.x_m,
        configs.y_m,
        configs.published_at
    from configs
    left join areas
        on configs.area_code = areas.area_code
    left join units
        on configs.unit_code = units.unit_code
    left join hazard_sources
        on configs.hazard_source_code = hazard_sources.hazard_source_code
)

select * from final
