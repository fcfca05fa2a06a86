-- The canonical interface of reported crime: one row per victim of a reported offence and
-- recorded version, of every police source. The simulated country's police reports need
-- SQL to reach it (stg_police__reports, checked here by this model's enforced contract).
-- Models after staging read police reports only from here.
{{ interface_union('crime_events', staged=[ref('stg_police__reports')]) }}
