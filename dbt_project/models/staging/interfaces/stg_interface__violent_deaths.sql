-- The canonical interface of violent deaths: one row per death record of every source whose
-- contract maps into it (`interface: violent_deaths:` in ingestion/contracts/), in one shape.
-- Generated from the mappings (macro `interface_union`); models after staging read deaths
-- only from here.
{{ interface_union('violent_deaths') }}
