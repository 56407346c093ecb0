-- One row per contractor company (承包商).
with source as (
    select * from {{ source('reference', 'contractors') }}
),

renamed as (
    select
        contractor_id,
        enterprise_code,
        name as contractor_name,
        name_en as contractor_name_en
    from source
)

select * from renamed
