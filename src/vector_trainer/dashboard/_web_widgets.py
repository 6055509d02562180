"""Streamlit pieces shared by the dashboard's tabs (no page of their own)."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from vector_trainer.dashboard.runview import DASHBOARD_TOKEN_PARAM, write_actions_allowed
from vector_trainer.errors import VectorTrainerError


def chart_or_notice(chart: alt.Chart | None, notice: str | None) -> None:
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    elif notice:
        st.info(notice)


def write_allowed() -> bool:
    return write_actions_allowed(st.query_params.get(DASHBOARD_TOKEN_PARAM))


def read_only_notice(command: str) -> None:
    st.info(
        "Read-only session: open the link that `vectortrainer dashboard` printed (it carries this "
        f"session's token) to roll back here, or run `{command}`."
    )


def render_versions(manager: Any, prefix: str, empty: str) -> None:
    """A hook directory's versions, source, diff and rollback (widget keys start with ``prefix``)."""
    try:
        versions = manager.list_versions()
    except VectorTrainerError as exc:
        st.error(str(exc))
        return
    if not versions:
        st.info(empty)
        return
    st.dataframe(
        pd.DataFrame([v.to_dict() for v in versions])[["version_id", "created_at", "rule_count", "sha256", "active"]],
        hide_index=True,
        key=f"{prefix}versions_table",
    )
    for problem in manager.verify():
        st.warning(problem)
    ids = [v.version_id for v in versions]
    active = next((v.version_id for v in versions if v.active), ids[-1])
    with st.expander(f"active hook source ({active})"):
        st.code(manager.source(active), language="python")
    if len(ids) > 1:
        left, right = st.columns(2)
        old = left.selectbox("diff from", ids, index=0, key=f"{prefix}diff_from")
        new = right.selectbox("diff to", ids, index=len(ids) - 1, key=f"{prefix}diff_to")
        st.code(manager.diff(old, new) or "(identical)", language="diff")
    st.markdown("**Roll back**")
    if not write_allowed():
        read_only_notice(f"vectortrainer hooks rollback --dir {manager.active_path.parent} VERSION")
        return
    others = [i for i in ids if i != active]
    if not others:
        return
    target = st.selectbox("version to activate", others, index=len(others) - 1, key=f"{prefix}rollback_version")
    confirmed = st.checkbox(f"Yes, make {target} the active hook", key=f"{prefix}rollback_confirm")
    if st.button("Roll back", key=f"{prefix}rollback_button", disabled=not confirmed):
        try:
            manager.rollback(target)
        except VectorTrainerError as exc:
            st.error(str(exc))
        else:
            st.success(f"{target} is now the active hook ({manager.active_path})")
