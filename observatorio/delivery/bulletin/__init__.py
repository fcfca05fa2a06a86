"""The monthly bulletin: an HTML page and its PDF, with charts, from the indicator mart.

Reads `marts.mart_indicators_monthly` (`indicator_code, municipality_code, month, sex,
age_group, numerator, denominator, value, source`), applies the same disclosure control as
the extracts (`observatorio.delivery.disclosure`) to every number before it is drawn, renders one
matplotlib chart per panel (PNG, embedded in the page) and prints the page to PDF with
headless Chromium. A panel whose indicators are not in the mart yet says so instead of
drawing an empty chart. `observatorio bulletin` and the `deliver_extracts` DAG call it; each
bulletin is audited in `ops.deliveries` like an extract.

`indicators` reads and protects the numbers, `charts` draws them, `panels` decides what each
chart shows, `publish` renders the page, prints the PDF and audits the bulletin.
"""

from observatorio.delivery.bulletin.publish import (
    BulletinError,
    BulletinResult,
    publish_bulletin,
    publish_if_due,
)

__all__ = ["BulletinError", "BulletinResult", "publish_bulletin", "publish_if_due"]
