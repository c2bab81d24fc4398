"""Results as JSON and as a Markdown table: ``bench/results/<timestamp>.json`` and ``.md``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def ratios(results: list[dict[str, Any]]) -> None:
    """Add each load figure's ratio to the two ceilings measured in the same run."""
    rps = {r["name"]: r["load"]["rps"] for r in results if r.get("load")}
    for result in results:  # a ceiling measured again after the scenarios: the mean of both (the machine drifts)
        if result["kind"] == "ceiling" and result["figures"].get("rps_repeat") and result.get("load"):
            rps[result["name"]] = (result["load"]["rps"] + result["figures"]["rps_repeat"]) / 2
    for result in results:
        if not result.get("load"):
            continue
        for ceiling in ("ceiling_plain", "ceiling_minimal"):
            base = rps.get(ceiling)
            result["load"][f"ratio_to_{ceiling}"] = round(result["load"]["rps"] / base, 3) if base else None
        if adjacent := result["figures"].get("minimal_just_before_rps"):
            result["load"]["ratio_to_minimal_just_before"] = round(result["load"]["rps"] / adjacent, 3)


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


_IN_NOTES = ("page_cache", "minimal_just_before_rps", "primed")  # figures that a note says in words


def _figures(result: dict[str, Any]) -> str:
    """The figures of a scenario, but those a note says in words (the page caches' counts, the minimal page
    measured just before)."""
    return ", ".join(f"{k} {_fmt(v)}" for k, v in result["figures"].items() if k not in _IN_NOTES)


def _notes(result: dict[str, Any]) -> list[str]:
    notes = list(result["notes"])
    if result["figures"].get("rps_repeat"):
        notes.append(f"again after the scenarios: {result['figures']['rps_repeat']:,.1f} req/s (ratios use the mean)")
    if (adjacent := result["figures"].get("minimal_just_before_rps")) and result.get("load"):
        notes.append(f"the minimal page just before: {adjacent:,.1f} req/s "
                     f"({_pct(result['load'].get('ratio_to_minimal_just_before'))} of it)")
    return notes


def _errors(load: dict[str, Any]) -> str:
    return f"{load['errors']} ({load['error_detail']})" if load["errors"] else "0"


def markdown(report: dict[str, Any]) -> str:
    machine, run = report["machine"], report["run"]
    lines = [
        f"# Benchmark {run['started']} — scale `{run['scale']}`", "",
        f"- Commit `{machine['commit'][:12]}` ({machine['commit_subject']})"
        + (" with uncommitted changes" if machine.get("uncommitted_changes") else ""),
        f"- Machine: {machine['cpus']} × {machine['cpu_model']}, {machine['memory_gib']} GiB, "
        f"Linux {machine['kernel']}, "
        f"load average at start {machine.get('load_average_at_start')}",
        f"- Python {machine['python']}, PostgreSQL {machine['postgresql']}, {machine['meilisearch']}, {machine['wrk']}",
        f"- Server: gunicorn + uvicorn workers × {run['workers']}, outbox worker ×1, YISHITING_ENV=production; "
        f"load: wrk, {run['concurrency']} connections, {run['duration_s']} s per scenario",
        f"- Data set: {', '.join(f'{k} {v:,}' for k, v in run['seeded'].items())}; seeded in {run['seed_s']:.1f} s, "
        f"indexed in {run['reindex_s']:.1f} s",
    ]
    if run.get("notes"):
        lines += [f"- {note}" for note in run["notes"]]
    lines += ["", "## Load scenarios", "",
              "| scenario | req/s | p50 ms | p90 ms | p99 ms | errors | × plain | × minimal | notes |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for result in report["results"]:
        load = result.get("load")
        if not load:
            continue
        lines.append(
            f"| {result['name']} | {_fmt(load['rps'])} | {_fmt(load['p50_ms'], 2)} | {_fmt(load['p90_ms'], 2)} | "
            f"{_fmt(load['p99_ms'], 2)} | {_errors(load)} | {_pct(load.get('ratio_to_ceiling_plain'))} | "
            f"{_pct(load.get('ratio_to_ceiling_minimal'))} | {'; '.join(_notes(result))} |")
    checked = [r for r in report["results"] if r["kind"] in ("ceiling", "load") and r.get("verdict")]
    if checked:  # load scenarios that also check correctness (the vote storm's exactly-once check)
        lines += ["", "## Load scenarios with a check", ""]
        for result in checked:
            lines.append(f"- **{result['name']}: {result['verdict']}** — {_figures(result)}")
    probes = [r for r in report["results"] if r["kind"] == "probe"]
    if probes:
        lines += ["", "## Probes", ""]
        for result in probes:
            lines.append(f"- **{result['name']}**: {_figures(result)}")
            lines += [f"  - {note}" for note in result["notes"]]
    drills = [r for r in report["results"] if r["kind"] == "drill"]
    if drills:
        lines += ["", "## Drills", ""]
        for result in drills:
            figures = ", ".join(f"{k} {_fmt(v)}" for k, v in result["figures"].items())
            lines.append(f"- **{result['name']}: {result['verdict']}** — {figures}")
            lines += [f"  - {note}" for note in result["notes"]]
    if report.get("failed"):
        lines += ["", "## Scenarios that failed to run", ""]
        lines += [f"- {name}: {error}" for name, error in report["failed"].items()]
    lines += ["", "## App processes after the run", "",
              "| process | pid | RSS MB |", "|---|---:|---:|"]
    lines += [f"| {p['role']} | {p['pid']} | {_fmt(p['rss_mb'])} |" for p in report["processes"]]
    if report.get("peak_worker_rss"):
        peaks = "; ".join(f"pid {p['pid']} {_fmt(p['rss_mb'])} MB after {p['after']}"
                          for p in report["peak_worker_rss"])
        lines += ["", "App workers' largest resident size after a scenario (before any drill restarted them): "
                  f"{peaks}."]
    if report.get("not_available"):
        lines += ["", "## Not yet available", ""]
        lines += [f"- {item['name']} — {item['description']} (waits for {item['pending']})"
                  for item in report["not_available"]]
    return "\n".join(lines) + "\n"


def write(out_dir: Path, stamp: str, report: dict[str, Any]) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{stamp}.json", out_dir / f"{stamp}.md"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    md_path.write_text(markdown(report), encoding="utf-8")
    return json_path, md_path
