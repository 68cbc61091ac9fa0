import sys
from pathlib import Path

# The example runs from its checkout: `projector_ml` is imported from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
