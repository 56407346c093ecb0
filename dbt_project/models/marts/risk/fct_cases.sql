-- One row per warning case (预警处置闭环, case_id): opened -> acknowledged -> handled -> verified ->
-- closed, with times, who acted, the worst color reached, the first and final assignee, the
-- escalations and durations in seconds. closed_on_time: closed at or before the deadline the
-- risk job set when the case opened (close_due_ms of `cases.current`, from cases.close_within_s
-- of the risk model the job ran), as closed_on_time of pipelines/risk/cases.py; null while the
-- case is not closed or its deadline is not in the lake. A case whose `opened` event is not in
-- the lake counts from its first event.
with case_events as (
    select * from {{ ref('stg_bronze__case_events') }}
),

deadlines as (
    select
        case_id,
        close_due_ms
    from {{ ref('stg_bronze__cases_current') }}
),

ordered as (
    select
        case_events.*,
        row_number() over (
            partition by case_id
            order by seq, event_time_ms, event_id
        ) as from_first,
        row_number() over (
            partition by case_id
            order by seq desc, event_time_ms desc, event_id desc
        ) as from_last
    from case_events
),

milestones as (
    select
        case_id,
        min(event_time_ms) as first_event_ms,
        max(event_time_ms) as last_event_ms,
        {%- for step in ['opened', 'acknowledged', 'handled', 'verified', 'closed'] %}
        min(case when event = '{{ step }}' then event_time_ms end) as {{ step }}_event_ms,
        {%- endfor %}
        {%- for step in ['acknowledged', 'handled', 'verified', 'closed'] %}
        {{ hazchem.value_at_max(
            "case when event = '" ~ step ~ "' then actor end",
            "case when event = '" ~ step ~ "' then -event_time_ms end"
        ) }} as {{ step }}_by,
        {%- endfor %}
        min(
            case case_level
                when 'red' then 0
                when 'orange' then 1
                when 'yellow' then 2
                when 'blue' then 3
            end
        ) as max_level_code,
        sum(case when event = 'escalated' then 1 else 0 end) as escalation_count,
        sum(case when event = 'level_raised' then 1 else 0 end) as level_raise_count,
        sum(case when event = 'commented' then 1 else 0 end) as comment_count,
        sum(case when event = 'action_rejected' then 1 else 0 end) as rejected_action_count,
        count(*) as event_count
    from case_events
    group by case_id
),

joined as (
    select
        milestones.case_id,
        first_events.enterprise_code,
        first_events.subject_type,
        first_events.subject_code,
        coalesce(milestones.opened_event_ms, milestones.first_event_ms) as opened_ms,
        milestones.acknowledged_event_ms as acknowledged_ms,
        milestones.acknowledged_by,
        milestones.handled_event_ms as handled_ms,
        milestones.handled_by,
        milestones.verified_event_ms as verified_ms,
        milestones.verified_by,
        milestones.closed_event_ms as closed_ms,
        milestones.closed_by,
        deadlines.close_due_ms,
        milestones.last_event_ms,
        milestones.max_level_code,
        first_events.assignee as first_assignee,
        last_events.assignee as final_assignee,
        last_events.escalation_level as final_escalation_level,
        last_events.case_status,
        milestones.escalation_count,
        milestones.level_raise_count,
        milestones.comment_count,
        milestones.rejected_action_count,
        milestones.event_count
    from milestones
    inner join ordered as first_events
        on milestones.case_id = first_events.case_id and first_events.from_first = 1
    inner join ordered as last_events
        on milestones.case_id = last_events.case_id and last_events.from_last = 1
    left join deadlines
        on milestones.case_id = deadlines.case_id
),

final as (
    select
        case_id,
        enterprise_code,
        subject_type,
        subject_code,
        case when subject_type = 'hazard_source' then subject_code end as hazard_source_code,
        case_status,
        case max_level_code
            when 0 then 'red'
            when 1 then 'orange'
            when 2 then 'yellow'
            when 3 then 'blue'
        end as max_risk_level,
        {{ hazchem.plant_date('opened_ms') }} as opened_date,
        opened_ms,
        acknowledged_ms,
        handled_ms,
        verified_ms,
        closed_ms,
        {{ hazchem.ms_to_timestamp('opened_ms') }} as opened_at,
        {{ hazchem.ms_to_timestamp('acknowledged_ms') }} as acknowledged_at,
        acknowledged_by,
        {{ hazchem.ms_to_timestamp('handled_ms') }} as handled_at,
        handled_by,
        {{ hazchem.ms_to_timestamp('verified_ms') }} as verified_at,
        verified_by,
        {{ hazchem.ms_to_timestamp('closed_ms') }} as closed_at,
        closed_by,
        {{ hazchem.ms_to_timestamp('close_due_ms') }} as close_due_at,
        {{ hazchem.ms_to_timestamp('last_event_ms') }} as last_event_at,
        first_assignee,
        final_assignee,
        final_escalation_level,
        escalation_count,
        level_raise_count,
        comment_count,
        rejected_action_count,
        event_count,
        cast(acknowledged_ms - opened_ms as double) / 1000 as time_to_ack_s,
        cast(handled_ms - opened_ms as double) / 1000 as time_to_handle_s,
        cast(closed_ms - opened_ms as double) / 1000 as time_to_close_s,
        case
            when closed_ms is not null and close_due_ms is not null
                then closed_ms <= close_due_ms
        end as closed_on_time
    from joined
)

select * from final
