"""The fan-out benchmark's report: a Markdown table of ours, baseline and ratio, and the targets.

The targets are those of the performance issue, every one judged against the baseline measured
in the same run (``fanout.py`` writes the raw figures; this module only reads them).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

# (label, how to read the figure from one result, format) in table order.
_ROWS: list[tuple[str, Callable[[dict], Any], str]] = [
    ("connect S sockets (s)", lambda r: r["connect"]["seconds"], "{:.2f}"),
    ("sockets connected", lambda r: r["connect"]["connected"], "{:d}"),
    ("sockets that got no message in the first sync (30 s)", lambda r: r["sync_after_connect"]["unsynced"], "{:d}"),
    ("sockets closed by the server", lambda r: r["close"]["closed_by_server"], "{:d}"),
    ("idle RSS per socket (KiB)", lambda r: r["idle_rss_per_socket_kib"], "{:.1f}"),
    ("rate run: msg/s x messages", lambda r: f"{r['rate']['rate']:g} x {r['rate']['messages']}", "{}"),
    ("rate run: latency p50 (ms)", lambda r: r["rate"]["latency_ms"]["p50"], "{:.2f}"),
    ("rate run: latency p99 (ms)", lambda r: r["rate"]["latency_ms"]["p99"], "{:.2f}"),
    ("rate run: latency max (ms)", lambda r: r["rate"]["latency_ms"]["max"], "{:.2f}"),
    ("rate run: lost messages", lambda r: r["rate"]["lost"], "{:d}"),
    ("rate run: server CPU per delivery (us)", lambda r: r["rate"]["server_cpu_us_per_delivery"], "{:.2f}"),
    ("burst: messages", lambda r: r["burst"]["messages"], "{:d}"),
    ("burst: deliveries/s", lambda r: r["burst"]["deliveries_per_s"], "{:,.0f}"),
    ("burst: lost messages", lambda r: r["burst"]["lost"], "{:d}"),
    ("burst: server CPU per delivery (us)", lambda r: r["burst"]["server_cpu_us_per_delivery"], "{:.2f}"),
    ("burst: load generator CPU busy (%)",
     lambda r: 100 * r["burst"]["loadgen_cpu_s"] / r["burst"]["seconds"] if r["burst"]["seconds"] else None,
     "{:.0f}"),
    ("Redis connections held (peak)", lambda r: r["redis_clients"]["peak"], "{}"),
]


def machine_description() -> dict[str, Any]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(), "loadavg_at_start": load}


def _figure(result: dict, read: Callable[[dict], Any]) -> Any:
    try:
        return read(result)
    except (KeyError, TypeError, ZeroDivisionError):
        return None


def _fmt(value: Any, form: str) -> str:
    if value is None:
        return "-"
    try:
        return form.format(value)
    except (ValueError, TypeError):
        return str(value)


def _ratio(ours: Any, base: Any) -> str:
    if not isinstance(ours, int | float) or not isinstance(base, int | float) or not base:
        return "-"
    return f"{ours / base:.2f}"


def by_size(report: dict) -> dict[int, dict[str, dict]]:
    table: dict[int, dict[str, dict]] = {}
    for result in report["results"]:
        table.setdefault(result["sockets"], {})[result["server"]] = result
    return table


def markdown_table(report: dict) -> str:
    sizes = by_size(report)
    header = ["figure"] + [f"{name} S={s:,}" for s in sizes for name in ("baseline", "ours", "ratio")]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, read, form in _ROWS:
        cells = [label]
        for pair in sizes.values():
            base = _figure(pair["baseline"], read) if "baseline" in pair else None
            ours = _figure(pair["ours"], read) if "ours" in pair else None
            cells += [_fmt(base, form), _fmt(ours, form), _ratio(ours, base)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(report: dict) -> list[tuple[bool | None, str]]:
    """Each target of the issue: met (True), not met (False) or not measured (None), with figures."""
    verdicts: list[tuple[bool | None, str]] = []
    sizes = by_size(report)
    pairs = {s: p for s, p in sizes.items() if "ours" in p and "baseline" in p}
    for s, pair in pairs.items():
        ours, base = pair["ours"]["burst"]["deliveries_per_s"], pair["baseline"]["burst"]["deliveries_per_s"]
        ratio = ours / base if ours and base else None
        verdicts.append((ratio is not None and ratio >= 1.5,
                         f"burst deliveries/s >= 1.5x baseline at S={s:,}: {_fmt(ratio, '{:.2f}')}x"))
    if 1000 in pairs:
        ours = pairs[1000]["ours"]["rate"]["latency_ms"]["p99"]
        base = pairs[1000]["baseline"]["rate"]["latency_ms"]["p99"]
        rate = pairs[1000]["ours"]["rate"]["rate"]
        delta = ours - base if ours is not None and base is not None else None
        verdicts.append((None if delta is None else delta <= 5.0,
                         f"rate-run p99 within 5 ms of baseline at S=1,000, {rate:g} msg/s: "
                         f"{_fmt(ours, '{:.2f}')} vs {_fmt(base, '{:.2f}')} ms ({_fmt(delta, '{:+.2f}')} ms)"))
    for s, pair in sizes.items():
        if "ours" not in pair:
            continue
        ours = pair["ours"]
        lost = (ours["rate"]["lost"], ours["burst"]["lost"])
        verdicts.append((lost == (0, 0), f"zero loss at S={s:,}: rate run lost {lost[0]}, burst lost {lost[1]}"))
        kib = ours["idle_rss_per_socket_kib"]
        verdicts.append((kib <= 16, f"idle memory <= 16 KiB per socket at S={s:,}: {kib:.1f} KiB"))
    if 10000 in sizes and "ours" in sizes[10000]:
        ours = sizes[10000]["ours"]
        held = ours["connect"]["connected"] == 10000 and ours["close"]["closed_by_server"] == 0
        verdicts.append((held, f"10,000 sockets held by one worker: {ours['connect']['connected']:,} connected, "
                               f"{ours['close']['closed_by_server']} closed by the server"))
    peaks = {s: p["ours"]["redis_clients"]["peak"] for s, p in sizes.items() if "ours" in p}
    if len(peaks) > 1:
        verdicts.append((len(set(peaks.values())) == 1,
                         "Redis connections independent of S: "
                         + ", ".join(f"{v} at S={s:,}" for s, v in peaks.items())))
    return verdicts


def markdown_block(report: dict) -> str:
    """The run as Markdown for ``docs/benchmarks.md``: conditions, the table, the target verdicts."""
    machine = report["machine"]
    load = machine.get("loadavg_at_start")
    lines = [
        f"Run of {report['date']} on {machine['nproc']} cores ({machine['cpu']}, Linux {machine['kernel']}), "
        f"Python {report['python']}, code {report.get('code', 'unknown')}; load average at the start "
        f"{', '.join(f'{x:.2f}' for x in load) if load else 'unknown'}.",
        "",
        "```",
        report["command"],
        "```",
        "",
        markdown_table(report),
        "",
        "Verdicts on the issue's targets, as computed by `benchmarks/report.py` from this run:",
        "",
    ]
    lines += [f"- {'met' if met else 'not measured' if met is None else '**not met**'}: {text}"
              for met, text in targets(report)]
    return "\n".join(lines)


def print_report(report: dict) -> None:
    machine = report["machine"]
    print(f"\n{report['date']}  {machine['nproc']} cores, {machine['cpu']}, "
          f"load average at start {machine['loadavg_at_start']}")
    print(f"command: {report['command']}")
    print(f"code: {report.get('code', 'unknown')}\n")
    print(markdown_table(report))
    print()
    for met, text in targets(report):
        print(f"- {'MET' if met else 'not measured' if met is None else 'NOT MET'}: {text}")


def main(argv: list[str] | None = None) -> int:
    """Print a results file again: ``report.py results/fanout.json``; ``--markdown`` for the docs."""
    import json
    import sys

    args = argv if argv is not None else sys.argv[1:]
    markdown = "--markdown" in args
    paths = [a for a in args if a != "--markdown"]
    if len(paths) != 1:
        print("usage: report.py [--markdown] RESULTS.json", file=sys.stderr)
        return 2
    report = json.loads(Path(paths[0]).read_text())
    if markdown:
        print(markdown_block(report))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
