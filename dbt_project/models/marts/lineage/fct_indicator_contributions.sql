-- Row-level provenance of every indicator cell: one row per fact row behind the cell, with
-- the batch, file and row of the source it was loaded from, generated from the indicator
-- definitions (dbt_project/indicators/*.yml, macro `indicator_contributions`).
-- `mart_indicators_monthly` sums these rows; `marts.explain_indicator()` lists them and
-- `observatorio explain --verify` recomputes a cell from them.
{{ config(
    indexes=[{'columns': ['indicator_code', 'municipality_code', 'month']}],
    post_hook="{{ create_explain_indicator_function() }}",
) }}

{{ indicator_contributions() }}
