-- One row per major hazard source (重大危险源) of the plant model.
with source as (
    select * from {{ source('reference', 'hazard_sources') }}
),

renamed as (
    select
        hazard_source_code,
        enterprise_code,
        name as hazard_source_name,
        name_en as hazard_source_name_en,
        kind as hazard_source_kind,
        unit_code,
        residents_within_500m,
        operations_lead,
        technical_lead,
        principal_head,
        gb18218_s,
        is_major_hazard,
        gb18218_r,
        gb18218_level,
        gb18218_level_zh,
        gb18218_alpha
    from source
)

select * from renamed
