-- The canonical interface of court judgements: one row per judgement (a defendant of a tried
-- case) version and pull, of every justice source (stg_justice__judgements for the simulated
-- country, checked by this model's enforced contract). Models after staging read judgements
-- only from here.
{{ interface_union('court_judgements', staged=[ref('stg_justice__judgements')]) }}
