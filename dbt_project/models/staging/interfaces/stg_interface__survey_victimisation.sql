-- The canonical interface of victimisation surveys: one row per respondent, crime type and
-- delivery, with the design's weight, stratum and primary sampling unit, of every survey
-- (stg_survey__victimisations for the simulated country, which unpivots its wide file;
-- checked by this model's enforced contract). Models after staging read surveys only from
-- here.
{{ interface_union('survey_victimisation', staged=[ref('stg_survey__victimisations')]) }}
