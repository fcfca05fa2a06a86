{#- Complementary suppression for a hierarchy of totals (national > department > municipality),
    the second step extracts take after primary suppression (observatorio/delivery/disclosure.py).

    `relation` is a CTE with one row per area and period: `id` its key, `parent` the key of
    the total it adds up to (null for the top) and `self_key` the key its own members name
    as their parent (null for a leaf). For each count in `counts` it adds a boolean
    `hide_<count>`: true for a primary-suppressed cell (1 to threshold - 1) and for the
    cells that keep it from being derived by subtraction. When exactly one member of a
    published total is suppressed, the smallest other non-zero member is suppressed too (a
    hidden zero protects little); when that
    member is the only one, its total is. Applied once per level, from the primary pattern.
    `threshold`: a column of `relation` holding each row's minimum cell size (else the var).
-#}
{% macro complementary_suppression(
    relation, counts, id, parent, self_key, period, threshold=none
) -%}
    select
        ranked.*,
        {%- for count in counts %}
            {{ is_small_count('ranked.' ~ count, 'ranked.' ~ threshold if threshold) }}
            or (
                ranked.{{ parent }} is not null
                and not {{ is_small_count('ranked.' ~ count, 'ranked.' ~ threshold if threshold) }}
                and ranked._small_members_{{ count }} = 1
                and ranked._members > 1
                and ranked._rank_{{ count }} = 1
            )
            or coalesce(own_group._small_members_{{ count }} = 1 and own_group._members = 1, false)
                as hide_{{ count }}{{ "," if not loop.last }}
        {%- endfor %}

    from (
        select
            {{ relation }}.*,
            count(*) over (partition by {{ period }}, {{ parent }}) as _members,
            {%- for count in counts %}
                count(*) filter (where {{ is_small_count(count, threshold) }})
                    over (partition by {{ period }}, {{ parent }}) as _small_members_{{ count }},
                row_number() over (
                    partition by {{ period }}, {{ parent }}, {{ is_small_count(count, threshold) }}
                    order by {{ count }} = 0, {{ count }}, {{ id }}
                ) as _rank_{{ count }}{{ "," if not loop.last }}
            {%- endfor %}
        from {{ relation }}
    ) as ranked
    left join (
        select
            {{ period }} as _period,
            {{ parent }} as _parent,
            count(*) as _members,
            {%- for count in counts %}
                count(*) filter (where {{ is_small_count(count, threshold) }})
                    as _small_members_{{ count }}{{ "," if not loop.last }}
            {%- endfor %}
        from {{ relation }}
        where {{ parent }} is not null
        group by {{ period }}, {{ parent }}
    ) as own_group
        on
            ranked.{{ period }} = own_group._period
            and ranked.{{ self_key }} = own_group._parent
{%- endmacro %}

{#- A count as published after complementary_suppression: null where `hide_<count>` is set. -#}
{% macro unless_hidden(count) -%}
    case when not hide_{{ count }} then {{ count }} end
{%- endmacro %}
