import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The notebooks import their helpers from notebooks/booktools; so do the tests.
sys.path.insert(0, str(ROOT / "notebooks"))
