"""The dashboard's Gate tab: a run's evaluations, the function's models, live hook and loop cycles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from vector_trainer.dashboard._web_widgets import chart_or_notice, read_only_notice, render_versions, write_allowed
from vector_trainer.dashboard.runview import LiveView, RunView, load_live
from vector_trainer.errors import VectorTrainerError
from vector_trainer.gate.verdicts import HookVerdict, ModelVerdict

#: Fixed colours of the interval chart: a clear gain, no clear change, a clear loss.
GAIN_COLOR = "#2ca02c"
NEUTRAL_COLOR = "#7f7f7f"
LOSS_OF_QUALITY_COLOR = "#d62728"


def comparison_rows(gated: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per metric of a gate evaluation (``evaluation.json``'s ``hook`` or ``model``)."""
    comparisons = (gated.get("evaluation") or {}).get("comparisons") or {}
    return [
        {
            "metric": name,
            "n": c.get("n"),
            "candidate": c.get("candidate_mean"),
            "incumbent": c.get("incumbent_mean"),
            "difference": c.get("difference"),
            "low": c.get("ci_low"),
            "high": c.get("ci_high"),
        }
        for name, c in comparisons.items()
        if isinstance(c, dict)
    ]


def interval_chart(rows: list[dict[str, Any]], title: str) -> alt.Chart | None:
    """Candidate minus incumbent per metric with its confidence interval, and the zero line."""
    shown = [r for r in rows if None not in (r["difference"], r["low"], r["high"])]
    if not shown:
        return None
    frame = pd.DataFrame(shown)
    frame["side"] = ["gain" if r["low"] > 0 else "loss" if r["high"] < 0 else "no clear change" for r in shown]
    frame["zero"] = 0.0
    color = alt.Color(
        "side:N",
        scale=alt.Scale(
            domain=["gain", "no clear change", "loss"], range=[GAIN_COLOR, NEUTRAL_COLOR, LOSS_OF_QUALITY_COLOR]
        ),
        legend=alt.Legend(title=None, orient="bottom"),
    )
    base = alt.Chart(frame).encode(y=alt.Y("metric:N", title=None, sort=None))
    x = alt.X("low:Q", title="candidate - incumbent", axis=alt.Axis(format="+.3f"))
    bars = base.mark_rule(strokeWidth=3).encode(x=x, x2="high:Q", color=color)
    points = base.mark_point(filled=True, size=90).encode(
        x="difference:Q", color=color, tooltip=["metric", "n", "candidate", "incumbent", "difference", "low", "high"]
    )
    zero = base.mark_tick(color="black", thickness=1, size=30).encode(x="zero:Q")
    return alt.layer(bars, points, zero, title=title).properties(height=alt.Step(36))


def render_gate(view: RunView) -> None:
    home = view.live_home
    if not view.evaluation and home is None:
        st.info(
            "This run was not gated. `vectortrainer loop` gates every cycle; from Python, give "
            "TrainingPipeline an evaluator and a promotion_policy."
        )
        return
    for part, verdict_type in (("hook", HookVerdict), ("model", ModelVerdict)):
        gated = view.evaluation.get(part)
        if not isinstance(gated, dict):
            continue
        st.subheader(f"{part.capitalize()}: candidate against the one in use")
        decision = verdict_type.from_dict(gated).decision
        (st.success if decision.promote else st.warning)(decision.reason or "no decision")
        rows = comparison_rows(gated)
        if rows:
            st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"gate_{part}_table")
            chart_or_notice(interval_chart(rows, f"{part}: difference and confidence interval"), None)
        examples = (gated.get("evaluation") or {}).get("examples") or []
        if examples:
            with st.expander(f"{part}: answers on held-out examples ({len(examples)} shown)"):
                st.dataframe(pd.DataFrame(examples), hide_index=True, key=f"gate_{part}_examples")
    if home is not None:
        render_live(load_live(home))


def render_live(live: LiveView) -> None:
    st.subheader(f"Models of this function ({live.home})")
    render_registry(live)
    st.subheader("Live hook")
    render_versions(live.hook_manager(), "live_", "No hook has been promoted yet.")
    st.subheader("Loop cycles")
    for problem in live.problems:
        st.warning(problem)
    pending = live.loop.get("pending")
    if pending:
        st.warning(f"cycle {Path(str(pending)).name} is running or was interrupted; the next loop resumes it")
    if live.cycles:
        rows = [
            {
                "cycle": Path(str(c.get("cycle_dir", ""))).name,
                "finished": c.get("finished_at"),
                "why": "; ".join(map(str, c.get("reasons") or [])),
                "hook": ((c.get("hook") or {}).get("decision") or {}).get("reason"),
                "model": ((c.get("model") or {}).get("decision") or {}).get("reason"),
            }
            for c in live.cycles
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="loop_cycles")
    elif not pending:
        st.info("No loop cycle has finished here (runs gated from Python have no loop state).")


def render_registry(live: LiveView) -> None:
    registry = live.registry
    try:
        models = registry.list_models()
        history = registry.history()
    except VectorTrainerError as exc:
        st.error(str(exc))
        return
    if not models:
        st.info("No trained model has been registered yet (dry runs train nothing).")
        return
    table = [
        {
            "model_id": m.model_id,
            "active": m.active,
            "provider": m.provider,
            "model": m.model,
            "base": m.base_model,
            "job": m.job_id,
            "created": m.created_at,
            "decision": ((m.evaluation or {}).get("decision") or {}).get("reason"),
        }
        for m in models
    ]
    st.dataframe(pd.DataFrame(table), hide_index=True, key="models_table")
    if history:
        with st.expander(f"promotion history ({len(history)} events)"):
            st.dataframe(pd.DataFrame(history), hide_index=True, key="models_history")
    others = [m.model_id for m in models if not m.active]
    if not others:
        return
    st.markdown("**Roll back the model**")
    if not write_allowed():
        read_only_notice(f"vectortrainer models rollback --dir {registry.directory} MODEL_ID")
        return
    target = st.selectbox("model to activate", others, index=len(others) - 1, key="model_rollback_version")
    confirmed = st.checkbox(f"Yes, make {target} the active model", key="model_rollback_confirm")
    if st.button("Roll back model", key="model_rollback_button", disabled=not confirmed):
        try:
            record = registry.rollback(target)
        except VectorTrainerError as exc:
            st.error(str(exc))
        else:
            st.success(f"{record.model_id} is now the active model ({record.model})")
