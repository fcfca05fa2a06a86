"""dbt docs: the site is generated, lists the exposures, and `lineage.html` opens on the graph."""

import json

from observatorio.transform.dbt import LINEAGE_GRAPH_ROUTE, generate_docs
from tests.browser import chromium


def test_docs_open_on_the_full_lineage_graph(clean_warehouse, settings, tmp_path):
    page = generate_docs(settings)

    target = settings.dbt_target_dir
    assert (target / "index.html").is_file() and (target / "catalog.json").is_file()
    assert f"url={LINEAGE_GRAPH_ROUTE}" in page.read_text(encoding="utf-8")
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    # The graph reaches the people who use the numbers: every extract spec and the bulletin.
    exposures = {e["name"] for e in manifest["exposures"].values()}
    specs = {
        p.stem
        for p in (settings.project_dir / "extracts").glob("*.yaml")
        if not p.name.startswith("_")
    }
    assert {e for e in exposures if e.startswith("extract_")} >= {f"extract_{s}" for s in specs}
    assert any("bulletin" in name for name in exposures)
    marts = {node for node in manifest["child_map"] if node.startswith("model.observatorio.fct_")}
    assert any(
        child.startswith("exposure.") for node in marts for child in manifest["child_map"][node]
    ), "no fact table feeds an exposure"

    # Render the page: the site's own route shows the lineage graph. The site reads
    # manifest.json and catalog.json beside it, which a file:// page may do only when allowed.
    with chromium(extra_args=("--allow-file-access-from-files",)) as browser:
        rendered = browser.new_page()
        rendered.goto(page.as_uri())
        rendered.get_by_text("Lineage Graph").first.wait_for(timeout=60_000)
        assert LINEAGE_GRAPH_ROUTE.split("?")[0] in rendered.url
