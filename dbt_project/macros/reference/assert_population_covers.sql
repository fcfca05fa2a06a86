{#- Post-hook of the indicator spine: every month being built needs the population of its
    year for every municipality that exists in it, or every rate of that month would be
    null. Stops the build with one line naming the year(s), the months and how many
    municipalities lack it, rather than publishing rates without a denominator. -#}
{% macro assert_population_covers(relation) -%}
    {%- if execute -%}
        {%- set missing = run_query(
            "select cast(extract(year from month_start) as integer) as year,"
            ~ " min(month) as first_month, max(month) as last_month,"
            ~ " count(distinct municipality_code) as municipalities"
            ~ " from " ~ relation ~ " where population is null"
            ~ " group by 1 order by 1"
        ) -%}
        {%- if missing.rows | length > 0 -%}
            {%- set parts = [] -%}
            {%- for row in missing.rows -%}
                {%- do parts.append(
                    "year " ~ row[0] ~ " (months " ~ row[1] ~ ".." ~ row[2] ~ ", "
                    ~ row[3] ~ " municipalities)"
                ) -%}
            {%- endfor -%}
            {{ exceptions.raise_compiler_error(
                "population missing for " ~ parts | join("; ")
                ~ ": the profile's population has no rows for "
                ~ (missing.rows | map(attribute=0) | join(", "))
                ~ " (OBSERVATORIO_PROFILE=" ~ profile_reference()["profile"] ~ ")"
            ) }}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}
