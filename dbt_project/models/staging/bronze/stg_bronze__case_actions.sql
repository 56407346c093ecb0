-- One row per operator action on a warning case (预警处置操作, action_id): acknowledge, handle,
-- verify, close, comment; the first landed copy is kept. Whether the case accepted the action is
-- in the `cases` events (action_rejected carries the reason).
with source as (
    select * from {{ source('bronze', 'case_actions') }}
),

first_copies as (
    {{ hazchem.first_landed_copy('source', ['action_id']) }}
),

renamed as (
    select
        action_id,
        case_id,
        action,
        actor,
        action_time_ms,
        {{ hazchem.ms_to_timestamp('action_time_ms') }} as action_at,
        comment as action_comment,
        cause,
        measures,
        attachments as attachments_json,
        coalesce({{ hazchem.json_array_size('attachments') }}, 0) as attachment_count,
        event_date,
        _ingested_at as ingested_at
    from first_copies
)

select * from renamed
