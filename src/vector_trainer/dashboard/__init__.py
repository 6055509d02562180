"""FR-4: the rich terminal dashboard, the run-directory reader and the Streamlit web app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vector_trainer._shared import lazy_dir, lazy_exports

if TYPE_CHECKING:  # the same names, for type checkers and editors (a test keeps them equal)
    from vector_trainer.dashboard.runview import RunView as RunView
    from vector_trainer.dashboard.runview import discover_runs as discover_runs
    from vector_trainer.dashboard.runview import load_run as load_run
    from vector_trainer.dashboard.terminal import CLIDashboard as CLIDashboard


_EXPORTS = {
    "CLIDashboard": "vector_trainer.dashboard.terminal",
    "RunView": "vector_trainer.dashboard.runview",
    "load_run": "vector_trainer.dashboard.runview",
    "discover_runs": "vector_trainer.dashboard.runview",
}
__all__ = sorted(_EXPORTS)
if not TYPE_CHECKING:  # type checkers see the imports above, not a module that answers any name
    __getattr__ = lazy_exports(__name__, _EXPORTS)
    __dir__ = lazy_dir(globals(), _EXPORTS)
