-- What citizens' consultations ranked as priorities, nationally, with the indicator each
-- names (its values are in indicators_monthly). Vote and participant counts from 1 to 9
-- are suppressed, and the share computed from them. National: national logins see it.
with

priorities as (

    select * from {{ ref('mart_consultation_priorities') }}

),

final as (

    select
        priority_id,
        priority_rank,
        topic_code,
        topic_kind,
        topic_label,
        cast(null as text) as department_code,
        consultations,
        municipalities,
        {{ suppress_small_count('votes') }} as votes,
        {{ suppress_small_count('participants') }} as participants,
        case
            when
                not {{ is_small_count('votes') }}
                and not {{ is_small_count('participants') }}
                then vote_share
        end as vote_share,
        mean_rank,
        times_ranked_first,
        first_consultation_date,
        last_consultation_date,
        indicator_code,
        trend

    from priorities

)

select * from final
