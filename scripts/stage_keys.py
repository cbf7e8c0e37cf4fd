"""Print every stage's cache key for the code defaults and for each preset (no upstream keys, no inputs).

Run it on two checkouts and diff the output to see that a refactoring keeps the keys (or which
stages a change invalidates)::

    PYTHONPATH=. python scripts/stage_keys.py > after.txt
"""

from photogrammetry.engine.settings import available_presets, resolve_config
from photogrammetry.engine.store import derive_key
from photogrammetry.stages import PIPELINE


def main() -> None:
    for preset in [None, *available_presets()]:
        config = resolve_config(PIPELINE, preset=preset)
        for spec in PIPELINE:
            print(f"{preset or '(defaults)':<11} {spec.name:<10} {derive_key(spec, config[spec.name], {})}")


if __name__ == "__main__":
    main()
