{#- `explain_indicator(indicator_code, municipality_code, month)`: the fact rows behind one
    indicator cell, for BI tools and psql. Created by the post-hook of
    fct_indicator_contributions, next to it. It returns an explicit column list (not the
    table's row type) and names the table only in its body, so dbt can swap the table on
    every build without dropping or breaking the function. A function from before
    `denominator_weight` and `measure` (another row type) is dropped once, then replaced. -#}
{% macro create_explain_indicator_function() -%}
    {{ return(adapter.dispatch('create_explain_indicator_function')()) }}
{%- endmacro %}

{% macro postgres__create_explain_indicator_function() -%}
do $drop_old$
begin
    if exists (
        select 1 from pg_proc
        where
            proname = 'explain_indicator'
            and pronamespace = '{{ this.schema }}'::regnamespace
            and not ('measure' = any(proargnames))
    ) then
        drop function {{ this.schema }}.explain_indicator(text, text, text);
    end if;
end
$drop_old$;
create or replace function {{ this.schema }}.explain_indicator(
    p_indicator_code text, p_municipality_code text, p_month text
)
returns table (
    indicator_code text,
    municipality_code text,
    month text,
    sex text,
    age_group text,
    fact_model text,
    fact_key text,
    counted_id text,
    weight numeric,
    denominator_weight numeric,
    measure numeric,
    batch_id text,
    source_file text,
    source_row bigint,
    file_sha256 text
)
language sql
stable
as $explain$
    select
        contributions.indicator_code,
        contributions.municipality_code,
        contributions.month,
        contributions.sex,
        contributions.age_group,
        contributions.fact_model,
        contributions.fact_key,
        contributions.counted_id,
        contributions.weight,
        contributions.denominator_weight,
        contributions.measure,
        contributions.batch_id,
        contributions.source_file,
        contributions.source_row,
        contributions.file_sha256
    from {{ this }} as contributions
    where
        contributions.indicator_code = p_indicator_code
        and contributions.municipality_code = p_municipality_code
        and contributions.month = p_month
    order by contributions.fact_model, contributions.fact_key
$explain$;
comment on function {{ this.schema }}.explain_indicator(text, text, text) is
    'The rows behind one indicator cell of mart_indicators_monthly (weight: numerator, '
    'denominator_weight: denominator, measure: days or records a month), with the batch, '
    'file and row they were loaded from. Rebuilt by dbt with fct_indicator_contributions.'
{%- endmacro %}
