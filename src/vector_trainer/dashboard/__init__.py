"""FR-4: the rich terminal dashboard, the run-directory reader and the Streamlit web app."""

from __future__ import annotations

from vector_trainer._shared import lazy_exports

_EXPORTS = {
    "CLIDashboard": "vector_trainer.dashboard.terminal",
    "RunView": "vector_trainer.dashboard.runview",
    "load_run": "vector_trainer.dashboard.runview",
    "discover_runs": "vector_trainer.dashboard.runview",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
