"""The web dashboard's views: charts and the tabs of one run (Streamlit, pandas, Altair).

:mod:`.webapp` imports this module after the page's title and run picker are on screen, so a
cold start shows the page at once and the charting libraries load behind a spinner.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from vector_trainer.dashboard._web_gate import render_gate
from vector_trainer.dashboard._web_widgets import chart_or_notice, render_versions
from vector_trainer.dashboard.runview import RunView, load_run

#: Fixed colours, so a screenshot test can find each chart by its pixels.
STRATEGY_COLORS = {"steady": "#1f77b4", "anomaly": "#d62728", "unselected": "#c7c7c7"}
LOSS_COLOR = "#2ca02c"
ACCURACY_COLOR = "#9467bd"
HISTOGRAM_COLOR = "#7f7f7f"
CHART_HEIGHT = 360


def projection_chart(view: RunView) -> alt.Chart | None:
    points = view.projection.get("points") or []
    if not points:
        return None
    frame = pd.DataFrame(points)
    domain = [k for k in STRATEGY_COLORS if k in set(frame["label"])]
    ratio = view.projection.get("explained_variance_ratio", [0, 0])
    return (
        alt.Chart(frame, title="Log vectors, 2-D PCA")
        .mark_circle(size=70, opacity=1.0)
        .encode(
            x=alt.X("x:Q", title=f"PC1 ({ratio[0]:.0%})"),
            y=alt.Y("y:Q", title=f"PC2 ({ratio[1]:.0%})"),
            color=alt.Color(
                "label:N",
                scale=alt.Scale(domain=domain, range=[STRATEGY_COLORS[k] for k in domain]),
                legend=alt.Legend(title="selection"),
            ),
            order=alt.Order("label:N", sort="descending"),
            tooltip=["uuid:N", "label:N"],
        )
        .properties(height=CHART_HEIGHT)
    )


def training_chart(view: RunView) -> alt.Chart | None:
    """Loss and accuracy against the step, each on its own axis (loss is about 1-10, accuracy 0-1:
    on one axis both would look flat)."""
    rows = [
        {"step": m["step"], "metric": name, "value": m[key]}
        for m in view.metrics
        for name, key in (("train loss", "train_loss"), ("accuracy", "train_accuracy"))
        if m.get(key) is not None and m.get("step") is not None
    ]
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    names = [n for n in ("train loss", "accuracy") if n in set(frame["metric"])]
    colors = {"train loss": LOSS_COLOR, "accuracy": ACCURACY_COLOR}
    color = alt.Color("metric:N", scale=alt.Scale(domain=names, range=[colors[n] for n in names]))
    base = alt.Chart(frame).mark_line(point=True, strokeWidth=3)
    layers = [
        base.transform_filter(alt.datum.metric == name).encode(
            x=alt.X("step:Q"),
            y=alt.Y("value:Q", title=name, scale=alt.Scale(domain=[0, 1]) if name == "accuracy" else alt.Undefined),
            color=color,
        )
        for name in names
    ]
    return alt.layer(*layers, title="Training curves").resolve_scale(y="independent").properties(height=CHART_HEIGHT)


def density_chart(view: RunView) -> alt.Chart | None:
    histogram = view.report.get("graph", {}).get("density", {}).get("histogram")
    if not histogram:
        return None
    edges, counts = histogram["edges"], histogram["counts"]
    frame = pd.DataFrame({"from": edges[:-1], "to": edges[1:], "logs": counts})
    return (
        alt.Chart(frame, title="Density D(i) distribution")
        .mark_bar(color=HISTOGRAM_COLOR)
        .encode(x=alt.X("from:Q", title="density"), x2="to:Q", y=alt.Y("logs:Q"), y2=alt.datum(0))
        .properties(height=240)
    )


def _projection_notice(view: RunView) -> str:
    stages = view.state.get("stages") or {}
    if "extract" not in stages and "train" in stages:
        return "This run trained a file directly ('vectortrainer train'): it has no log projection."
    return "No projection yet: the extract stage has not finished."


def render_overview(view: RunView) -> None:
    examples = view.report.get("examples", {})
    training = view.training
    cols = st.columns(4)
    cols[0].metric("status", view.status)
    cols[1].metric("golden examples", examples.get("written", 0), help="steady + anomaly")
    cols[2].metric("rules", len(view.rules.get("rules", [])))
    cols[3].metric("training", training.get("status") or training.get("mode") or "not started")
    left, right = st.columns(2)
    with left:
        chart_or_notice(projection_chart(view), _projection_notice(view))
    with right:
        chart_or_notice(training_chart(view), "No training metrics yet (a dry run, or no job report yet).")
    chart_or_notice(density_chart(view), None)
    stages = view.state.get("stages", {})
    if stages:
        st.dataframe(pd.DataFrame([{"stage": k, **v} for k, v in stages.items()]), hide_index=True)


def render_golden(view: RunView) -> None:
    examples = view.report.get("examples", {})
    st.caption(
        f"{examples.get('steady', 0)} steady, {examples.get('anomaly', 0)} anomaly; "
        f"{len(view.report.get('logs', {}).get('excluded', []))} logs excluded (unusable vector or NaN)"
    )
    if not view.examples:
        st.info("No golden examples in this run.")
        return
    st.dataframe(pd.DataFrame(view.examples), hide_index=True, key="golden_table")


def _rule_row(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule as a person reads it: readable target and replacement, 1-based feedback pair numbers
    (runs written before rules.json had ``shown`` and ``pairs`` fall back to the raw fields)."""
    raw_shown, raw_sources = rule.get("shown"), rule.get("sources")
    shown: dict[str, Any] = raw_shown if isinstance(raw_shown, dict) else {}
    sources: list[Any] = raw_sources if isinstance(raw_sources, list) else []
    return {
        "kind": rule.get("kind"),
        "target": shown.get("target", rule.get("target")),
        "replacement": shown.get("replacement", rule.get("replacement")),
        "support": rule.get("support"),
        "feedback pairs (1-based)": rule.get("pairs") or [s + 1 for s in sources if isinstance(s, int)],
    }


def render_rules(view: RunView) -> None:
    rules = view.rules.get("rules", [])
    if rules:
        st.subheader("Rules")
        table = [_rule_row(r) for r in rules if isinstance(r, dict)]
        st.dataframe(pd.DataFrame(table), hide_index=True, key="rules_table")
    else:
        st.info("No rules in this run.")
    conflicts = view.rules.get("conflicts", [])
    if conflicts:
        st.subheader("Conflicts")
        st.dataframe(pd.DataFrame(conflicts), hide_index=True, key="conflicts_table")
    render_hook_versions(view)


def render_hook_versions(view: RunView) -> None:
    st.subheader("Hook versions")
    render_versions(view.hook_manager(), "", "No hook has been generated in this run.")


def render_training(view: RunView) -> None:
    training = view.training
    if not training:
        st.info("The training stage has not run yet.")
    else:
        st.json(training)
    if view.cost:
        cost = view.cost
        bound = "" if cost.get("exact", True) else " (upper bound: the exact tokenizer was unavailable)"
        st.metric("estimated cost", f"${cost.get('estimated_usd', 0):.4f}{bound}")
        st.json(cost)
    if view.metrics:
        st.dataframe(pd.DataFrame(view.metrics), hide_index=True, key="metrics_table")


def _render_section(title: str, render: Any, view: RunView) -> None:
    """Render one tab; a file damaged in a way ``runview`` does not foresee costs that tab, not the page."""
    try:
        render(view)
    except Exception as exc:  # any damage must leave the rest of the page usable
        message = f"{title} cannot be shown: a file of this run is damaged ({type(exc).__name__}: {exc})"
        view.problems.append(message)
        st.error(message)


def render_run(path: str) -> None:
    view = load_run(path)
    damaged = view.damage
    st.header(f"{view.name}: {view.status}" + (f" ({len(damaged)} damaged: see Problems)" if damaged else ""))
    sections = {
        "Overview": render_overview,
        "Golden data": render_golden,
        "Rules & hook": render_rules,
        "Training": render_training,
        "Gate": render_gate,
    }
    tabs = st.tabs([*sections, "Problems"])
    for tab, (title, render) in zip(tabs[:-1], sections.items(), strict=True):
        with tab:
            _render_section(title, render, view)
    with tabs[-1]:
        if view.problems:
            for problem in view.problems:
                st.warning(problem)
        else:
            st.success("Every file of this run is present and readable.")
