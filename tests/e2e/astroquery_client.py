"""astroquery.mast's everyday flow against a server, in a fresh interpreter.

``python -m tests.e2e.astroquery_client URL DOWNLOAD_DIR`` prints one JSON line: the
observations found, the product-list length and each downloaded file's name and SHA-256.
astroquery fixes its server URL at import, so a test that needs a second server (one started
with ``serve --workers 2``) runs the client here instead of in its own process.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path


def main(url: str, download_dir: Path) -> None:
    from astropy.config.configuration import get_config

    get_config("astroquery.mast")["server"] = url  # what astroquery.cfg's [mast] server does
    from astropy.table import unique, vstack
    from astroquery.mast import Observations

    obs = Observations.query_criteria(obs_collection="JWST", proposal_id="1073")
    lists = [Observations.get_product_list(row["obsid"]) for row in obs]
    files = unique(vstack(lists), keys="productFilename")
    manifest = Observations.download_products(
        files, download_dir=str(download_dir), productType="SCIENCE", calib_level=[3]
    )
    fetched = {
        Path(path).name: hashlib.sha256(Path(path).read_bytes()).hexdigest()
        for path, status in zip(manifest["Local Path"], manifest["Status"], strict=True)
        if status == "COMPLETE"
    }
    print(json.dumps({
        "observations": len(obs), "proposals": sorted(set(obs["proposal_id"])),
        "products": len(files), "statuses": sorted(set(manifest["Status"])),
        "fetched": fetched,
    }))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
