-- One row per inspection check-in point (巡检点) with its route.
with source as (
    select * from {{ source('reference', 'inspection_points') }}
),

renamed as (
    select
        point_id,
        enterprise_code,
        route_id,
        route_name,
        area_code,
        inspector,
        period_h,
        point_seq,
        name as point_name,
        x_m,
        y_m
    from source
)

select * from renamed
