"""Writers of police report files in the export's documented format, for tests about
specific inputs (bad bytes, ragged rows, encodings). Realistic volumes come from the simulator."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

from ingestion.pseudonymise import national_id_check_digit
from simulator.police import REPORT_COLUMNS

# The export's header, from the contract (as the simulator writes it).
HEADER = list(REPORT_COLUMNS)


def national_id(number: int) -> str:
    digits = str(number)
    return f"{digits}-{national_id_check_digit(digits)}"


def report_row(n: int, **overrides: str) -> list[str]:
    values = {
        "numero_denuncia": f"DEN-2024-{n:07d}",
        "victima_nro": "1",
        "fecha_registro": "05/01/2024 10:00",
        "fecha_hecho": "04/01/2024",
        "hora_hecho": "21:30",
        "codigo_municipio": "01001",
        "municipio": "San José",
        "codigo_delito": "CP-131",
        "delito": "Lesiones leves",
        "cedula_victima": national_id(100000000 + n),
        "nombre_victima": f"José Núñez {n}",
        "sexo_victima": "M" if n % 2 else "F",
        "edad_victima": str(20 + n % 50),
        "fecha_nacimiento_victima": "",
        "relacion_agresor": "desconocido",
        "arma": "ninguna",
        "lugar": "vía pública",
    }
    values.update(overrides)
    return [values[h] for h in HEADER]


def write_reports(
    path: Path,
    rows: list[list[str]],
    header: list[str] | None = None,
    encoding: str = "cp1252",
) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding=encoding, newline="") as handle:  # type: ignore[operator]
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(header or HEADER)
        writer.writerows(rows)
    return path
