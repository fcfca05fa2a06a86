-- The canonical interface of prosecution cases: one row per case version and pull, of every
-- justice source (stg_justice__cases for the simulated country, checked by this model's
-- enforced contract). Models after staging read cases only from here.
{{ interface_union('justice_cases', staged=[ref('stg_justice__cases')]) }}
