"""``python -m skyarchive.demo OUT_DIR [--seed N] [--scale K]``: write a demo archive."""

from __future__ import annotations

import argparse
from pathlib import Path

from skyarchive.demo.generate import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m skyarchive.demo", description=__doc__)
    parser.add_argument("out_dir", type=Path, help="empty or missing folder to write into")
    parser.add_argument("--seed", type=int, default=1, help="same seed on the same day, same bytes")
    parser.add_argument("--scale", type=int, default=1, help="copies of the JWST programs")
    args = parser.parse_args(argv)
    summary = generate(args.out_dir, seed=args.seed, scale=args.scale)
    print(
        f"{len(summary.files)} files, {len(summary.exposure_obs)} exposures, "
        f"{len(summary.level3_obs)} stage-3 products, {len(summary.programs)} programs "
        f"in {summary.seconds:.1f} s -> {args.out_dir}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
