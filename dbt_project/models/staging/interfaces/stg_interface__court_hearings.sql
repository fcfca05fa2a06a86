-- The canonical interface of court hearings: one row per hearing version and pull, of every
-- justice source whose contract maps into it (`interface: court_hearings:`; the simulated
-- country's hearings map column for column). Models after staging read hearings only from
-- here.
{{ interface_union('court_hearings') }}
