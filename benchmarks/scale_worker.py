"""One size of the scale run: ``python -m benchmarks.scale_worker``, started by scale.run().

Reads DATABASE_URL (its own database) and the rest of the environment run.py set up.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "example_project"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

if __name__ == "__main__":
    import django

    django.setup()
    from benchmarks import scale

    scale.serve()
