"""Scales and defect rates of the simulator, in one place.

Every injected defect has its rate here, at ``messiness=1.0``. ``DefectRates.scaled`` multiplies
them by the messiness factor (capped at 1), so ``--messiness 0`` turns every defect off and the
exports become a clean view of the simulated world. The README's defect table mirrors this file.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

# Events per 365 simulated days. The country (population, geography) never changes with the
# scale: only the crime intensity does, so per-capita rates are realistic at ``small``.
SCALE_EVENTS_PER_YEAR: dict[str, int] = {
    "tiny": 1_000,
    "small": 50_000,
    "medium": 1_000_000,
    "large": 10_000_000,
}

# Respondents per survey year; the survey is a sample, so it grows slower than the events.
SURVEY_SAMPLE_SIZE: dict[str, int] = {
    "tiny": 300,
    "small": 3_000,
    "medium": 12_000,
    "large": 30_000,
}

# The base rates in simulator.crimes are calibrated for this many events per year.
BASE_EVENTS_PER_YEAR = 50_000


@dataclass(frozen=True)
class DefectRates:
    """Probability of each defect at messiness 1.0; see README "Injected defects"."""

    # Police exports.
    police_file_resent: float = 0.04  # per daily file: identical copy named *_reenvio.csv
    police_missing_id: float = 0.08  # per identified victim row: cedula left empty
    police_name_typo: float = 0.05  # per named victim row: one typo in the full name
    police_name_in_code: float = 0.03  # per row: municipality name in codigo_municipio
    police_missing_age: float = 0.04  # per victim row: edad and fecha_nacimiento empty
    police_unknown_sex: float = 0.01  # per victim row: sexo_victima "I"
    police_late_reclassification: float = 1.0  # per late death: report first sent as assault
    police_silence_municipality: float = 0.10  # per municipality: 1-3 silent months
    # Gaps between systems.
    hidden_homicide: float = 0.05  # per homicide event: never reaches the police
    homicide_without_autopsy: float = 0.03  # per homicide victim: no forensic record
    unidentified_body: float = 0.04  # per homicide victim: "NN", no national ID anywhere
    undetermined_intent: float = 0.04  # per homicide autopsy: coded Y10-Y34, not X85-Y09
    # Health exports.
    icd_format_variant: float = 0.30  # per ICD-10 code: written "X950", "x95", "X95"...
    # Names of a few municipalities are spelled per system (San José / San Jose / S. José).
    spelling_variants: float = 1.0

    def scaled(self, messiness: float) -> DefectRates:
        """Return the rates multiplied by ``messiness`` and capped at 1."""
        if messiness < 0:
            raise ValueError(f"messiness must be >= 0, got {messiness}")
        changes = {f.name: min(1.0, getattr(self, f.name) * messiness) for f in fields(self)}
        return replace(self, **changes)


def scale_factor(scale: str) -> float:
    """Crime intensity relative to the calibrated base rates for a named scale."""
    if scale not in SCALE_EVENTS_PER_YEAR:
        expected = sorted(SCALE_EVENTS_PER_YEAR)
        raise ValueError(f"unknown scale {scale!r}; expected one of {expected}")
    return SCALE_EVENTS_PER_YEAR[scale] / BASE_EVENTS_PER_YEAR
