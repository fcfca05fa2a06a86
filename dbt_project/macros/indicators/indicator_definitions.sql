{#- GENERATED from dbt_project/indicators/*.yml by `python -m observatorio.indicators.generate`: do not edit.
    The indicator definitions as the macros indicator_contributions() and
    indicator_cells() read them. -#}
{% macro indicator_definitions() -%}
{%- set payload -%}{% raw %}
{
 "indicators": [
  {
   "by_source": false,
   "code": "homicide_count_police",
   "denominator": null,
   "disaggregations": [
    "sex",
    "age_group"
   ],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "is_intentional_homicide"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "homicide_rate_police",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [
    "sex",
    "age_group"
   ],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "is_intentional_homicide"
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "femicide_count",
   "denominator": null,
   "disaggregations": [
    "age_group"
   ],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "is_femicide"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "femicide_rate",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "female_population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [
    "age_group"
   ],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "is_femicide"
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "intrafamily_violence_reports",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "is_intrafamily and iccs_level_1_code in ('01', '02', '03')"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "intrafamily_violence_rate",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "is_intrafamily and iccs_level_1_code in ('01', '02', '03')"
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "sexual_violence_reports",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "iccs_level_1_code = '03'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "sexual_violence_rate",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "iccs_level_1_code = '03'"
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "detentions_count",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "detentions",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "detentions_rate",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "detentions",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "police_complaints_count",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "police_complaints",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "use_of_force_incidents",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "use_of_force",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "persons_killed_by_police",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "use_of_force",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "persons_killed",
    "where": "persons_killed > 0"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "firearm_homicides_police",
   "denominator": null,
   "disaggregations": [
    "sex",
    "age_group"
   ],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "is_intentional_homicide and weapon = 'arma de fuego'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "child_maltreatment_victims",
   "denominator": null,
   "disaggregations": [
    "sex",
    "age_group"
   ],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "victim_age < 18 and (iccs_level_1_code = '03' or (is_intrafamily and iccs_level_1_code in ('01', '02', '03')))"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "robbery_reports",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "iccs_level_2_code = '0401'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "burglary_reports",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "iccs_level_2_code = '0501'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "theft_reports",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "iccs_level_2_code = '0502'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "vehicle_theft_reports",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "iccs_code = '050211'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "kidnapping_reports",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "iccs_code = '020221'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "extortion_reports",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "iccs_level_3_code = '02051'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "robbery_rate",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "iccs_level_2_code = '0401'"
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "burglary_rate",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "iccs_level_2_code = '0501'"
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "theft_rate",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "iccs_level_2_code = '0502'"
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "vehicle_theft_rate",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "iccs_code = '050211'"
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "kidnapping_rate",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "iccs_code = '020221'"
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "extortion_rate",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "iccs_level_3_code = '02051'"
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": true,
   "code": "homicide_count_health",
   "denominator": null,
   "disaggregations": [
    "sex",
    "age_group"
   ],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "violent_deaths",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "is_homicide"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "health"
  },
  {
   "by_source": true,
   "code": "homicide_rate_health",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [
    "sex",
    "age_group"
   ],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "violent_deaths",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "is_homicide"
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "health"
  },
  {
   "by_source": false,
   "code": "legal_intervention_deaths",
   "denominator": null,
   "disaggregations": [
    "sex",
    "age_group"
   ],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "violent_deaths",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "is_legal_intervention"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "health"
  },
  {
   "by_source": false,
   "code": "undetermined_intent_share",
   "denominator": {
    "distinct": false,
    "fact": "violent_deaths",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "true"
   },
   "disaggregations": [
    "sex",
    "age_group"
   ],
   "kind": "share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "violent_deaths",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "intent = 'undetermined'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "health"
  },
  {
   "by_source": false,
   "code": "homicide_police_health_ratio",
   "denominator": {
    "distinct": false,
    "fact": "violent_deaths",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "is_homicide"
   },
   "disaggregations": [
    "sex",
    "age_group"
   ],
   "kind": "share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "crime_reports",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "is_intentional_homicide"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police+health"
  },
  {
   "by_source": false,
   "code": "homicide_count_sdg",
   "denominator": null,
   "disaggregations": [
    "sex",
    "age_group"
   ],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "violent_deaths",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "is_homicide or is_legal_intervention"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "health"
  },
  {
   "by_source": false,
   "code": "homicide_rate_sdg",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [
    "sex",
    "age_group"
   ],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "violent_deaths",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "is_homicide or is_legal_intervention"
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "health"
  },
  {
   "by_source": false,
   "code": "suicide_count_health",
   "denominator": null,
   "disaggregations": [
    "sex",
    "age_group"
   ],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "violent_deaths",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "intent = 'suicide'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "health"
  },
  {
   "by_source": false,
   "code": "suicide_rate_health",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [
    "sex",
    "age_group"
   ],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "violent_deaths",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "intent = 'suicide'"
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "health"
  },
  {
   "by_source": false,
   "code": "road_traffic_deaths_health",
   "denominator": null,
   "disaggregations": [
    "sex",
    "age_group"
   ],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "violent_deaths",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "icd10_cause_code collate \"C\" between 'V01' and 'V89'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "health"
  },
  {
   "by_source": false,
   "code": "road_traffic_death_rate_health",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [
    "sex",
    "age_group"
   ],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "violent_deaths",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "icd10_cause_code collate \"C\" between 'V01' and 'V89'"
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "health"
  },
  {
   "by_source": false,
   "code": "firearm_deaths_health",
   "denominator": null,
   "disaggregations": [
    "sex",
    "age_group"
   ],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "violent_deaths",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "icd10_cause_code in ('W32', 'W33', 'W34', 'X72', 'X73', 'X74', 'X93', 'X94', 'X95', 'Y22', 'Y23', 'Y24')"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "health"
  },
  {
   "by_source": false,
   "code": "homicide_reconciled",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "homicide_victims",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "is_homicide"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "reconciled"
  },
  {
   "by_source": false,
   "code": "homicide_rate_reconciled",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "homicide_victims",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "is_homicide"
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "reconciled"
  },
  {
   "by_source": false,
   "code": "homicide_confirmed_by_two_sources",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "homicide_victims",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "final_status = 'confirmed_homicide'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "reconciled"
  },
  {
   "by_source": false,
   "code": "justice_funnel_reports",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "justice_funnel",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "stage = 'report'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "justice"
  },
  {
   "by_source": false,
   "code": "justice_funnel_cases",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "justice_funnel",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "stage = 'case'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "justice"
  },
  {
   "by_source": false,
   "code": "justice_funnel_indictments",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "justice_funnel",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "stage = 'indictment'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "justice"
  },
  {
   "by_source": false,
   "code": "justice_funnel_convictions",
   "denominator": null,
   "disaggregations": [],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": true,
    "fact": "justice_funnel",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "stage = 'conviction'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "justice"
  },
  {
   "by_source": false,
   "code": "justice_conviction_share",
   "denominator": {
    "distinct": false,
    "fact": "justice_funnel",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "stage = 'case'"
   },
   "disaggregations": [],
   "kind": "share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "justice_funnel",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "stage = 'case' and is_convicted"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "justice"
  },
  {
   "by_source": false,
   "code": "justice_median_days_report_to_case",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [],
   "kind": "median",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "justice_funnel",
    "measure": "days_from_previous_stage",
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "stage = 'case' and days_from_previous_stage >= 0"
   },
   "poisson_interval": false,
   "precision": 1,
   "source": "justice"
  },
  {
   "by_source": false,
   "code": "justice_median_days_case_to_indictment",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [],
   "kind": "median",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "justice_funnel",
    "measure": "days_from_previous_stage",
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "stage = 'indictment' and days_from_previous_stage >= 0"
   },
   "poisson_interval": false,
   "precision": 1,
   "source": "justice"
  },
  {
   "by_source": false,
   "code": "justice_median_days_indictment_to_judgement",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [],
   "kind": "median",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "justice_funnel",
    "measure": "days_from_previous_stage",
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": "stage = 'judgement' and days_from_previous_stage >= 0"
   },
   "poisson_interval": false,
   "precision": 1,
   "source": "justice"
  },
  {
   "by_source": false,
   "code": "dark_figure__attempted_homicide",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'attempted_homicide' and was_victim"
   },
   "disaggregations": [],
   "kind": "complement_share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'attempted_homicide' and was_victim and reported_to_police"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "dark_figure__assault",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'assault' and was_victim"
   },
   "disaggregations": [],
   "kind": "complement_share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'assault' and was_victim and reported_to_police"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "dark_figure__sexual_violence",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'sexual_violence' and was_victim"
   },
   "disaggregations": [],
   "kind": "complement_share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'sexual_violence' and was_victim and reported_to_police"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "dark_figure__intrafamily_violence",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'intrafamily_violence' and was_victim"
   },
   "disaggregations": [],
   "kind": "complement_share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'intrafamily_violence' and was_victim and reported_to_police"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "dark_figure__robbery",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'robbery' and was_victim"
   },
   "disaggregations": [],
   "kind": "complement_share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'robbery' and was_victim and reported_to_police"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "dark_figure__burglary",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'burglary' and was_victim"
   },
   "disaggregations": [],
   "kind": "complement_share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'burglary' and was_victim and reported_to_police"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "dark_figure__theft",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'theft' and was_victim"
   },
   "disaggregations": [],
   "kind": "complement_share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'theft' and was_victim and reported_to_police"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "dark_figure__vehicle_theft",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'vehicle_theft' and was_victim"
   },
   "disaggregations": [],
   "kind": "complement_share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'vehicle_theft' and was_victim and reported_to_police"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "dark_figure__extortion",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'extortion' and was_victim"
   },
   "disaggregations": [],
   "kind": "complement_share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'extortion' and was_victim and reported_to_police"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "dark_figure__kidnapping",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'kidnapping' and was_victim"
   },
   "disaggregations": [],
   "kind": "complement_share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'kidnapping' and was_victim and reported_to_police"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "dark_figure__threats",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'threats' and was_victim"
   },
   "disaggregations": [],
   "kind": "complement_share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'threats' and was_victim and reported_to_police"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "dark_figure__fraud",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'fraud' and was_victim"
   },
   "disaggregations": [],
   "kind": "complement_share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'fraud' and was_victim and reported_to_police"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "dark_figure__property_damage",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'property_damage' and was_victim"
   },
   "disaggregations": [],
   "kind": "complement_share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'property_damage' and was_victim and reported_to_police"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "adjusted_incidence_rate__attempted_homicide",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'attempted_homicide'"
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'attempted_homicide' and was_victim"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "adjusted_incidence_rate__assault",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'assault'"
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'assault' and was_victim"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "adjusted_incidence_rate__sexual_violence",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'sexual_violence'"
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'sexual_violence' and was_victim"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "adjusted_incidence_rate__intrafamily_violence",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'intrafamily_violence'"
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'intrafamily_violence' and was_victim"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "adjusted_incidence_rate__robbery",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'robbery'"
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'robbery' and was_victim"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "adjusted_incidence_rate__burglary",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'burglary'"
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'burglary' and was_victim"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "adjusted_incidence_rate__theft",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'theft'"
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'theft' and was_victim"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "adjusted_incidence_rate__vehicle_theft",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'vehicle_theft'"
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'vehicle_theft' and was_victim"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "adjusted_incidence_rate__extortion",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'extortion'"
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'extortion' and was_victim"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "adjusted_incidence_rate__kidnapping",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'kidnapping'"
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'kidnapping' and was_victim"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "adjusted_incidence_rate__threats",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'threats'"
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'threats' and was_victim"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "adjusted_incidence_rate__fraud",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'fraud'"
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'fraud' and was_victim"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "adjusted_incidence_rate__property_damage",
   "denominator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'property_damage'"
   },
   "disaggregations": [],
   "kind": "per_100k",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "survey_victimisation",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "weight",
    "where": "crime_type = 'property_damage' and was_victim"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "survey"
  },
  {
   "by_source": false,
   "code": "reporting_gap__police_reports",
   "denominator": null,
   "disaggregations": [],
   "kind": "gap",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": null,
    "reporting_source": "police_reports",
    "weight": null,
    "where": null
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "reporting_gap__detentions",
   "denominator": null,
   "disaggregations": [],
   "kind": "gap",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": null,
    "reporting_source": "detentions",
    "weight": null,
    "where": null
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "reporting_gap__police_complaints",
   "denominator": null,
   "disaggregations": [],
   "kind": "gap",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": null,
    "reporting_source": "police_complaints",
    "weight": null,
    "where": null
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "reporting_gap__use_of_force",
   "denominator": null,
   "disaggregations": [],
   "kind": "gap",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": null,
    "reporting_source": "use_of_force",
    "weight": null,
    "where": null
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": false,
   "code": "reporting_gap__forensic_deaths",
   "denominator": null,
   "disaggregations": [],
   "kind": "gap",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": null,
    "reporting_source": "forensic_deaths",
    "weight": null,
    "where": null
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "health"
  },
  {
   "by_source": false,
   "code": "reporting_gap__hospital_admissions",
   "denominator": null,
   "disaggregations": [],
   "kind": "gap",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": null,
    "reporting_source": "hospital_admissions",
    "weight": null,
    "where": null
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "health"
  },
  {
   "by_source": false,
   "code": "reporting_gap__prosecution_cases",
   "denominator": null,
   "disaggregations": [],
   "kind": "gap",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": null,
    "reporting_source": "prosecution_cases",
    "weight": null,
    "where": null
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "justice"
  },
  {
   "by_source": false,
   "code": "reporting_coverage_share",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [],
   "kind": "coverage_share",
   "lists_denominator": true,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": null,
    "reporting_source": "all",
    "weight": null,
    "where": null
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police+health+justice"
  },
  {
   "by_source": true,
   "code": "homicide_victims_counted",
   "denominator": null,
   "disaggregations": [
    "sex"
   ],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "crime_counts",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "count_value",
    "where": "iccs_code like '0101%' and counting_unit = 'victims' and period = 'month'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": true,
   "code": "homicide_events_counted",
   "denominator": null,
   "disaggregations": [
    "sex"
   ],
   "kind": "count",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "crime_counts",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "count_value",
    "where": "iccs_code like '0101%' and counting_unit = 'events' and period = 'month'"
   },
   "poisson_interval": false,
   "precision": 6,
   "source": "police"
  },
  {
   "by_source": true,
   "code": "homicide_victims_counted_rate",
   "denominator": {
    "distinct": false,
    "fact": null,
    "measure": null,
    "population": "population",
    "reporting_source": null,
    "weight": null,
    "where": null
   },
   "disaggregations": [
    "sex"
   ],
   "kind": "per_100k",
   "lists_denominator": false,
   "min_stable_numerator": 20,
   "numerator": {
    "distinct": false,
    "fact": "crime_counts",
    "measure": null,
    "population": null,
    "reporting_source": null,
    "weight": "count_value",
    "where": "iccs_code like '0101%' and counting_unit = 'victims' and period = 'month'"
   },
   "poisson_interval": true,
   "precision": 6,
   "source": "police"
  }
 ],
 "interfaces": {
  "crime_counts": {
   "age": null,
   "age_group": null,
   "counted_by": null,
   "key": null,
   "model": "int_indicator_facts__crime_counts",
   "month_of": null,
   "rows": null,
   "sex": "sex",
   "year_of": null
  },
  "crime_reports": {
   "age": "victim_age",
   "age_group": null,
   "counted_by": "report_id",
   "key": "report_victim_id",
   "model": "fct_crime_reports",
   "month_of": "incident_date",
   "rows": null,
   "sex": "victim_sex",
   "year_of": null
  },
  "detentions": {
   "age": "detainee_age",
   "age_group": null,
   "counted_by": null,
   "key": "detention_id",
   "model": "fct_detentions",
   "month_of": "detention_date",
   "rows": null,
   "sex": "detainee_sex",
   "year_of": null
  },
  "homicide_victims": {
   "age": null,
   "age_group": null,
   "counted_by": null,
   "key": null,
   "model": "int_indicator_facts__homicide_victims",
   "month_of": null,
   "rows": null,
   "sex": null,
   "year_of": null
  },
  "justice_funnel": {
   "age": null,
   "age_group": null,
   "counted_by": null,
   "key": null,
   "model": "int_indicator_facts__justice_funnel",
   "month_of": null,
   "rows": null,
   "sex": null,
   "year_of": null
  },
  "police_complaints": {
   "age": null,
   "age_group": null,
   "counted_by": null,
   "key": "complaint_id",
   "model": "fct_police_complaints",
   "month_of": "registered_date",
   "rows": null,
   "sex": null,
   "year_of": null
  },
  "survey_victimisation": {
   "age": null,
   "age_group": null,
   "counted_by": "respondent_id",
   "key": "respondent_crime_id",
   "model": "fct_survey_victimisation",
   "month_of": null,
   "rows": "weight is not null",
   "sex": null,
   "year_of": "survey_year"
  },
  "use_of_force": {
   "age": null,
   "age_group": null,
   "counted_by": null,
   "key": "incident_id",
   "model": "fct_use_of_force",
   "month_of": "incident_date",
   "rows": null,
   "sex": null,
   "year_of": null
  },
  "violent_deaths": {
   "age": "age_years",
   "age_group": null,
   "counted_by": null,
   "key": null,
   "model": "int_indicator_facts__violent_deaths",
   "month_of": null,
   "rows": null,
   "sex": "sex",
   "year_of": null
  }
 },
 "reporting_sources": [
  {
   "date": "registered_date",
   "model": "int_justice_reports_registered",
   "source": "police_reports",
   "system": "police"
  },
  {
   "date": "detention_date",
   "model": "fct_detentions",
   "source": "detentions",
   "system": "police"
  },
  {
   "date": "registered_date",
   "model": "fct_police_complaints",
   "source": "police_complaints",
   "system": "police"
  },
  {
   "date": "incident_date",
   "model": "fct_use_of_force",
   "source": "use_of_force",
   "system": "police"
  },
  {
   "date": "death_date",
   "model": "fct_violent_deaths",
   "source": "forensic_deaths",
   "system": "health"
  },
  {
   "date": "admission_date",
   "model": "fct_injury_admissions",
   "source": "hospital_admissions",
   "system": "health"
  },
  {
   "date": "opened_date",
   "model": "fct_prosecution_cases",
   "source": "prosecution_cases",
   "system": "justice"
  }
 ],
 "window": {
  "months": 6,
  "usual_months": 4,
  "usual_records": 30
 }
}
{% endraw %}{%- endset -%}
{{ return(fromjson(payload)) }}
{%- endmacro %}
