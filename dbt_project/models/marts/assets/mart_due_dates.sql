-- One row per due item (certificate expiry, equipment calibration or replacement) with its days
-- left relative to the as_of date (var `as_of`, default the session's current_date): overdue
-- when the due date has passed, due_30d within the next 30 days (due today included), else ok.
with due_items as (
    select * from {{ ref('int_due_items_unioned') }}
),

dated as (
    select
        due_items.*,
        {{ hazchem.as_of_date() }} as as_of_date
    from due_items
),

measured as (
    select
        dated.*,
        {{ dbt.datediff('as_of_date', 'due_date', 'day') }} as days_left
    from dated
),

final as (
    select
        due_item_id,
        item_source,
        item_id,
        item_type,
        due_kind,
        item_name,
        holder_type,
        holder_id,
        area_code,
        due_date,
        as_of_date,
        cast(days_left as bigint) as days_left,
        case
            when days_left < 0 then 'overdue'
            when days_left <= 30 then 'due_30d'
            else 'ok'
        end as due_status
    from measured
)

select * from final
