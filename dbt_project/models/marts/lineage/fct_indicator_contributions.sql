-- Row-level provenance of every indicator cell: one row per fact row behind the cell, with
-- the batch, file and row of the source it was loaded from, generated from the indicator
-- definitions (dbt_project/indicators/*.yml, macro `indicator_contributions`).
-- `mart_indicators_monthly` sums these rows; `marts.explain_indicator()` lists them and
-- `observatorio explain --verify` recomputes a cell from them. Incremental: a build deletes
-- and re-inserts the rows of the units int_indicator_changes lists and of the indicators
-- recomputed whole (macro indicator_contributions_replaced, the pre-hook).
-- depends_on: {{ ref('int_indicator_changes') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[
        {'columns': ['indicator_code', 'municipality_code', 'month']},
        {'columns': ['month', 'municipality_code']},
        {'columns': ['counted_id']},
        {'columns': ['batch_id']},
    ],
    pre_hook="{{ indicator_contributions_replaced() }}",
    post_hook="{{ create_explain_indicator_function() }}",
) }}

{{ indicator_contributions() }}
