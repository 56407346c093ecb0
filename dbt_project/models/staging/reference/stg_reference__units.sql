-- One row per unit (生产单元/储存单元/辅助设施).
with source as (
    select * from {{ source('reference', 'units') }}
),

renamed as (
    select
        unit_code,
        enterprise_code,
        name as unit_name,
        name_en as unit_name_en,
        unit_type,
        hazard_source_code
    from source
)

select * from renamed
