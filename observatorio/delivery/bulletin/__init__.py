"""The monthly bulletin: a Spanish publication (HTML and its PDF) from the indicator mart.

Reads `marts.mart_indicators_monthly` (numerators and denominators of the last 13 months)
and the marts beside it, applies the same disclosure control as the extracts
(`observatorio.delivery.disclosure`) before any number is computed, and prints a cover
(period and data cut-off in words), pages of panels (a chart, a text written from the numbers
and a table each; counts and rates never on one axis; annualised rates with exact Poisson
intervals; only stable rates ranked), a municipal map from the country profile's geometries
and a methods page written from the definitions' publication rules. Every label comes from the
indicator definitions (`observatorio.indicators`), never a code. Printed to PDF with headless
Chromium; `observatorio bulletin` and the `deliver_extracts` DAG call it; each bulletin is
audited in `ops.deliveries` like an extract.

`labels` holds the words (names, units, dates, numbers), `indicators` reads and protects the
rows, `series` turns them into published numbers, `narrative` writes the texts, `charts` and
`geometry` draw, `panels` and `mart_panels` decide what each panel shows, `methods` writes the
methods page, `publish` renders, prints and audits.
"""

from observatorio.delivery.bulletin.publish import (
    BulletinError,
    BulletinResult,
    publish_bulletin,
    publish_if_due,
)

__all__ = ["BulletinError", "BulletinResult", "publish_bulletin", "publish_if_due"]
