-- One row per tag (位号) of the plant model, limits and priorities flattened as in stg_bronze__tags.
with source as (
    select * from {{ source('reference', 'tags') }}
),

renamed as (
    select
        {{ hazchem.tag_config_columns() }},
        equipment_id,
        normal_value
    from source
)

select * from renamed
