"""FR-4.3 / FR-7.5: the Streamlit web dashboard (extra ``web``).

Start it with ``vectortrainer dashboard [RUN_DIR]`` (binds 127.0.0.1), or directly:

    streamlit run "$(python -c 'import vector_trainer.dashboard.webapp as m; print(m.__file__)')" -- --runs RUN_DIR

It reads run directories from disk (``runview``), so it follows a run in progress from another
process, and says what is missing instead of failing on a half-written run. API keys are never
read or shown.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import streamlit as st

from vector_trainer.config import RunConfig
from vector_trainer.dashboard.runview import discover_runs

RUNS_ENV = "VECTORTRAINER_RUNS"
DEFAULT_RUNS = RunConfig.out
REFRESH_SECONDS = 5


def runs_root(argv: list[str] | None = None) -> Path:
    """The runs directory: ``--runs`` after ``--`` on the streamlit command line, else the
    ``VECTORTRAINER_RUNS`` environment variable, else ``vectortrainer-run``."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--runs")
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return Path(known.runs or os.environ.get(RUNS_ENV) or DEFAULT_RUNS)


def main() -> None:
    st.set_page_config(page_title="VectorTrainer", layout="wide")
    root = runs_root()
    st.title("VectorTrainer")
    runs = discover_runs(root)
    if not runs:
        st.warning(f"No runs under {root}. Create one with `vectortrainer demo`, or pass a run directory.")
        return
    labels = {str(p): str(p.relative_to(root)) if p != root else p.name for p in runs}
    chosen = st.sidebar.selectbox("Run", list(labels), format_func=labels.__getitem__, key="run")
    follow = st.sidebar.toggle(f"Follow run (refresh every {REFRESH_SECONDS} s)", value=False, key="follow")
    with st.spinner("Loading the charts (the first view after a start takes a few seconds)..."):
        from vector_trainer.dashboard._web_views import render_run
    renderer: Any = st.fragment(run_every=REFRESH_SECONDS)(render_run) if follow else render_run
    renderer(chosen)


if __name__ == "__main__":  # Streamlit runs the script as __main__; an import runs nothing
    main()
