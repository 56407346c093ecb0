-- One row per camera (摄像头).
with source as (
    select * from {{ source('reference', 'cameras') }}
),

renamed as (
    select
        camera_id,
        enterprise_code,
        name as camera_name,
        area_code,
        x_m,
        y_m
    from source
)

select * from renamed
