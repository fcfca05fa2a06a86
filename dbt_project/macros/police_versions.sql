{#- The versions of a police record, with its municipality resolved: one select, used as the
    body of a CTE by every police model (reports, detentions, complaints, use of force).

    The police re-send a record when they correct it (an assault becomes a homicide when the
    victim dies) and re-send whole files; every row carries `recorded_at` (when that version
    was recorded), `ingested_at`, `batch_id` and `source_row`.

    - `records`: the import CTE of the staging rows; `key`: the record's id column.
    - `keep='latest'`: one row per record, its latest recorded version (ties broken by the
      latest load). `keep='all'`: one row per record and distinct `recorded_at` (a version
      re-sent in another file counts once), with `version_number` (1 = first recorded),
      `valid_from` (= recorded_at) and `valid_to` (the next version's recorded_at, null for
      the current one), for "as known on date X" queries.
    - Both add `version_rank` (1 = latest), `version_count` (rows that arrived, re-sends
      included), `is_latest_version`, `municipality_code` (`99999` when neither the code nor
      a name resolves) and `is_municipality_from_name`.
    - `municipalities` and `municipality_names` name the import CTEs of `ref_municipalities`
      and `int_municipality_names`.
    - `within`: a column the key is part of (a report's number, for one victim of it): every
      window is partitioned by it too, which groups the same rows, so that a filter on it
      (macro changed_records_filter's `within`) reaches the staged rows, where the raw
      table's index on it finds them. A filter on the key alone reached them too, but as an
      expression no index has: every raw row was read (100,000 changed report victims among
      10M: fct_crime_reports' select 4.6 s → 1.7 s alone; in a build, the versions' 13.4 s →
      4.1 s). -#}
{% macro police_versions_resolved(
    records,
    key,
    keep='latest',
    municipalities='municipalities',
    municipality_names='municipality_names',
    within=none
) -%}
    {%- set partition = ([within] if within else []) + [key] -%}
    {%- if keep not in ('latest', 'all') -%}
        {{ exceptions.raise_compiler_error(
            "police_versions_resolved: keep must be 'latest' or 'all', not '" ~ keep ~ "'"
        ) }}
    {%- endif -%}
    select
        versions.*,
        coalesce(
            by_code.municipality_code,
            by_name.municipality_code,
            by_name_field.municipality_code,
            '99999'
        ) as municipality_code,
        by_code.municipality_code is null as is_municipality_from_name

    from (
        select
            ranked.*,
            ranked.version_rank = 1 as is_latest_version
            {%- if keep == 'all' %},
            row_number() over (
                partition by ranked.{{ partition | join(', ranked.') }}
                order by ranked.recorded_at
            ) as version_number,
            ranked.recorded_at as valid_from,
            lead(ranked.recorded_at) over (
                partition by ranked.{{ partition | join(', ranked.') }}
                order by ranked.recorded_at
            ) as valid_to
            {%- endif %}

        from (
            select
                {{ records }}.*,
                row_number() over (
                    partition by {{ records }}.{{ partition | join(', ' ~ records ~ '.') }}
                    order by
                        {{ records }}.recorded_at desc,
                        {{ records }}.ingested_at desc,
                        {{ records }}.batch_id desc,
                        {{ records }}.source_row desc
                ) as version_rank,
                row_number() over (
                    partition by
                        {{ records }}.{{ partition | join(', ' ~ records ~ '.') }},
                        {{ records }}.recorded_at
                    order by
                        {{ records }}.ingested_at desc,
                        {{ records }}.batch_id desc,
                        {{ records }}.source_row desc
                ) as copy_rank,
                count(*) over (
                    partition by {{ records }}.{{ partition | join(', ' ~ records ~ '.') }}
                ) as version_count

            from {{ records }}
        ) as ranked
        {%- if keep == 'latest' %}
        where ranked.version_rank = 1
        {%- else %}
        where ranked.copy_rank = 1
        {%- endif %}
    ) as versions
    left join {{ municipalities }} as by_code
        on versions.municipality_reported = by_code.municipality_code
    left join {{ municipality_names }} as by_name
        on {{ normalise_text('versions.municipality_reported') }} = by_name.name_key
    left join {{ municipality_names }} as by_name_field
        on {{ normalise_text('versions.municipality_name') }} = by_name_field.name_key
{%- endmacro %}
