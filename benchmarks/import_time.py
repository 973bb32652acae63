"""How long ``import tinyreason`` takes in a fresh interpreter (the claim: well under 1 s).

The tests check what the import loads (the standard library and pluggy only, no heavy library);
this measures the time, which depends on the machine and its load. Each figure is the best of
``--repeats`` fresh interpreters, beside the same interpreter importing nothing as the baseline.

Run: ``.venv/bin/python benchmarks/import_time.py``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_TIMED = """
import json, time
start = time.perf_counter()
{statement}
print(json.dumps(time.perf_counter() - start))
"""

STATEMENTS = {
    "nothing (baseline)": "pass",
    "import tinyreason": "import tinyreason",
    "import tinyreason.evaluation": "import tinyreason.evaluation",
    "import tinyreason.testing": "import tinyreason.testing",
}


def best_seconds(statement: str, repeats: int) -> float:
    """The fastest of ``repeats`` fresh interpreters running ``statement``."""
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", _TIMED.format(statement=statement)],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    seconds = {label: best_seconds(code, args.repeats) for label, code in STATEMENTS.items()}
    baseline = seconds["nothing (baseline)"]
    print(f"best of {args.repeats} fresh interpreters (Python {sys.version.split()[0]}):")
    for label, value in seconds.items():
        print(f"  {label:30s} {value * 1000:8.1f} ms  ({value - baseline:+.3f} s over baseline)")


if __name__ == "__main__":
    main()
