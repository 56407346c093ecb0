-- One row per person (人员); person_name is personal data.
with source as (
    select * from {{ source('reference', 'people') }}
),

renamed as (
    select
        person_id,
        enterprise_code,
        name as person_name,
        tag_id as positioning_tag_id,
        role,
        person_type,
        contractor_id,
        home_area as home_area_code,
        post_x_m,
        post_y_m
    from source
)

select * from renamed
