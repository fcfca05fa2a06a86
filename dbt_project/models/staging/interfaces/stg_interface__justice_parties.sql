-- The canonical interface of the parties of prosecution cases (victims and defendants, as
-- pseudonyms): one row per party version and pull, of every justice source
-- (stg_justice__parties for the simulated country, checked by this model's enforced
-- contract). Models after staging read parties only from here.
{{ interface_union('justice_parties', staged=[ref('stg_justice__parties')]) }}
