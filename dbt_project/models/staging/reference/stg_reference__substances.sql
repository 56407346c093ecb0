-- One row per substance held in a hazard source (hazard_source_code + substance_seq).
with source as (
    select * from {{ source('reference', 'substances') }}
),

renamed as (
    select
        hazard_source_code,
        substance_seq,
        enterprise_code,
        name_zh,
        name_en,
        cas_no,
        hazard_categories as hazard_categories_json,
        design_max_t,
        actual_t
    from source
)

select * from renamed
