-- One row per due item: a certificate's expiry (有效期), an equipment item's next calibration
-- (下次校验, e.g. safety valves 安全阀) or replacement (更换, e.g. bursting discs 爆破片). Revoked
-- certificates and retired equipment are not due. due_date is the plant calendar date of the
-- due instant.
with certificates as (
    select * from {{ ref('int_certificates_current') }}
),

equipment as (
    select * from {{ ref('int_equipment_current') }}
),

certificate_expiries as (
    select
        'certificate:' || certificate_id || ':expiry' as due_item_id,
        'certificate' as item_source,
        certificate_id as item_id,
        cert_type as item_type,
        'expiry' as due_kind,
        cert_type as item_name,
        holder_type,
        holder_id,
        cast(null as varchar) as area_code,
        expires_on_ms as due_ms
    from certificates
    where status <> 'revoked'
),

calibrations as (
    select
        'equipment:' || equipment_id || ':calibration' as due_item_id,
        'equipment' as item_source,
        equipment_id as item_id,
        equipment_type as item_type,
        'calibration' as due_kind,
        equipment_name as item_name,
        'equipment' as holder_type,
        equipment_id as holder_id,
        area_code,
        next_calibration_due_ms as due_ms
    from equipment
    where status <> 'retired' and next_calibration_due_ms is not null
),

replacements as (
    select
        'equipment:' || equipment_id || ':replacement' as due_item_id,
        'equipment' as item_source,
        equipment_id as item_id,
        equipment_type as item_type,
        'replacement' as due_kind,
        equipment_name as item_name,
        'equipment' as holder_type,
        equipment_id as holder_id,
        area_code,
        replacement_due_ms as due_ms
    from equipment
    where status <> 'retired' and replacement_due_ms is not null
),

unioned as (
    select * from certificate_expiries
    union all
    select * from calibrations
    union all
    select * from replacements
),

dated as (
    select
        unioned.*,
        {{ hazchem.plant_date('due_ms') }} as due_date
    from unioned
)

select * from dated
