"""A human-readable build report: report.md with PNG plots beside it.

`write_human_report(build_dir, report)` turns the build's report.json dict into Markdown
that answers "which layer limits throughput" and "does it fit" in its first lines, and
plots (per-layer cycles, per-layer LUT/BRAM, totals against the board) linked by relative
paths so the folder can be opened anywhere without a server.
"""

from __future__ import annotations

from pathlib import Path

# (report key, label, board capacity key in resources_estimate)
RESOURCES = (("lut", "LUT", "board_lut"), ("ff", "FF", "board_ff"), ("bram18", "BRAM18", "board_bram18"))

EST_COLOR, SIM_COLOR, HOT_COLOR, SYN_COLOR = "#8fb3d9", "#2b6cb0", "#d9534f", "#e39b3d"


def bottleneck(report: dict) -> dict:
    """The layer with the most cycles per image: the network's initiation interval is its.
    Simulated cycles when the build ran rtlsim (they are what the hardware does), else the estimate."""
    def cycles(lay):
        return lay["sim_cycles"] if lay.get("sim_cycles") is not None else lay["est_cycles"]
    return max(report["layers"], key=cycles)


def fit(report: dict) -> tuple[bool, str, list[tuple[str, int, int]]]:
    """(fits, source, [(label, used, capacity)]): Yosys counts when the build synthesized, else the estimate."""
    est = report["resources_estimate"]
    syn = report.get("resources_synth")
    counts, source = (syn, "Yosys synth_xilinx") if syn else (est, "analytic estimate")
    rows = [(label, int(counts[key]), int(est[cap])) for key, label, cap in RESOURCES]
    if syn and "dsp" in syn:
        from hwflow.boards import get_board
        try:
            rows.append(("DSP", int(syn["dsp"]), get_board(report["board"]).dsp))
        except Exception:  # an unknown board name in an old report: leave DSP out rather than fail
            pass
    return all(used <= cap for _, used, cap in rows), source, rows


def _shape(lay: dict) -> str:
    return lay.get("shape", lay["kind"])


def _fold(lay: dict) -> str:
    parts = [f"{k.upper()} {lay[k]}" for k in ("pe", "simd") if k in lay]
    return ", ".join(parts) or "-"


def write_human_report(build_dir: Path, report: dict) -> Path:
    """Write build_dir/report.md and build_dir/report_*.png; return the path of report.md."""
    import matplotlib
    matplotlib.use("Agg")  # no display: builds run headless and in CI

    build_dir = Path(build_dir)
    for old in build_dir.glob("report_*.png"):
        old.unlink()  # a rebuilt report must not link stale plots
    images = {
        "cycles": _plot_cycles(build_dir / "report_cycles.png", report),
        "layers": _plot_layer_resources(build_dir / "report_layers.png", report),
        "fit": _plot_fit(build_dir / "report_fit.png", report),
    }
    md = build_dir / "report.md"
    md.write_text(_markdown(report, {k: p.name for k, p in images.items()}))
    return md


# --- Markdown ---------------------------------------------------------------------------

def _markdown(report: dict, images: dict) -> str:
    net, clock = report["network"], report["clock_mhz"]
    hot = bottleneck(report)
    hot_cycles = hot["sim_cycles"] if hot.get("sim_cycles") is not None else hot["est_cycles"]
    ok, source, rows = fit(report)
    worst = max(rows, key=lambda r: r[1] / r[2] if r[2] else 0)
    ips = net.get("images_per_s", net["est_images_per_s"])
    # equally slow layers all cap throughput: name them, or speeding up one would seem to help
    tied = [lay["name"] for lay in report["layers"] if lay is not hot and
            (lay["sim_cycles"] if lay.get("sim_cycles") is not None else lay["est_cycles"]) == hot_cycles]
    use = ", ".join(f"{label} {used:,}/{cap:,} ({100 * used / cap:.0f}%)" for label, used, cap in rows if cap)
    lines = [
        f"# hwflow build report: {Path(report['model']).name} on {report['board']}",
        "",
        f"- **Throughput limited by:** `{hot['name']}` ({hot['kind']} {_shape(hot)}, {_fold(hot)}) at "
        f"{hot_cycles:g} cycles/image → {ips:,.0f} images/s at {clock:g} MHz"
        + (f" (tied with {', '.join(f'`{t}`' for t in tied)})" if tied else ""),
        f"- **Fits {report['board']} ({report['part']}):** {'YES' if ok else 'NO'} by {source}; "
        f"fullest resource {worst[0]} at {100 * worst[1] / worst[2]:.0f}% ({use})",
        f"- **Verified bit-exact:** {_verified(report)}",
        "",
        "## Throughput and latency",
        "",
        f"| | cycles/image | images/s at {clock:g} MHz | latency |",
        "|---|---|---|---|",
        f"| estimate | {net['est_cycles_per_image']:g} | {net['est_images_per_s']:,.0f} | - |",
    ]
    if "sim_cycles_per_image" in net:
        lines.append(f"| rtlsim | {net['sim_cycles_per_image']:g} | {net['images_per_s']:,.0f} | "
                     f"{net['sim_latency_cycles']} cycles = {net['latency_us']:.2f} µs |")
    else:
        lines.append("| rtlsim | not run | - | - |")
    lines += ["", f"Folding: {report['folding']}.", "", f"![cycles per layer]({images['cycles']})", "",
              "## Layers", ""]
    has_syn = any("synth" in lay for lay in report["layers"])
    head = "| layer | kind | shape | folding | cycles (est) | cycles (sim) | LUT (est) | BRAM18 (est) |"
    if has_syn:
        head += " LUT (Yosys) | BRAM18 (Yosys) |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for lay in report["layers"]:
        simc = f"{lay['sim_cycles']:g}" if lay.get("sim_cycles") is not None else "-"
        name = f"**{lay['name']}** ⟵ bottleneck" if lay is hot else lay["name"]
        row = (f"| {name} | {lay['kind']} | {_shape(lay)} | {_fold(lay)} | {lay['est_cycles']:,} | {simc} "
               f"| {lay['est_lut']:,} | {lay['est_bram18']} |")
        if has_syn:
            s = lay.get("synth") or {}
            row += f" {s.get('lut', '-')} | {s.get('bram18', '-')} |"
        lines.append(row)
    lines += ["", f"![resources per layer]({images['layers']})", "",
              f"## Fit on {report['board']}", "",
              f"Counts from the {source}" + ("" if report.get("resources_synth") else
                                             f" ({report['synth_failed']})" if report.get("synth_failed") else
                                             " (build with `--synth top` for Yosys counts)") + ".", "",
              "| resource | used | board | utilisation |", "|---|---|---|---|"]
    lines += [f"| {label} | {used:,} | {cap:,} | {100 * used / cap:.1f}% |" for label, used, cap in rows if cap]
    lines += ["", f"![fit on the board]({images['fit']})", "", "## Bit-exact checks", ""]
    lines += _checks_table(report)
    lines += ["", "Bitstream: " + (f"`{report['bitstream']}`" if report.get("bitstream") else
                                   "not built (no Vivado here; run `vivado/run.sh`)")
              + (f"; deployment package `{Path(report['deploy']).name}`." if report.get("deploy") else "."),
              "", "Timing (Vivado implementation): " + report.get("timing", {}).get("summary", "not run") + "."]
    if report.get("hls_synthesis"):
        lines += ["", f"HLS synthesis (Vitis HLS): {report['hls_synthesis']}."]
    return "\n".join(lines) + "\n"


def _verified(report: dict) -> str:
    """yes or NO with the checks passed, and why NO when every check passed but the delivered
    RTL was not simulated."""
    from hwflow.build import RTL_NOT_SIMULATED
    checks = report.get("checks", {})
    passed = f"{sum(bool(v) for v in checks.values())}/{len(checks)} checks passed"
    if report.get("verified"):
        return f"yes ({passed})"
    if not report.get("delivered", {}).get("simulated", True):
        return f"NO ({passed}, but {RTL_NOT_SIMULATED})"
    return f"NO ({passed})"


def _checks_table(report: dict) -> list[str]:
    """Each check with the artefact it covered, then which artefact Yosys, Vivado and deploy use."""
    from hwflow.build import CHECK_ARTEFACTS
    checks = report.get("checks", {})
    # reports written before check_artefacts existed: the names mean the same
    artefacts = {**CHECK_ARTEFACTS, **report.get("check_artefacts", {})}
    lines = ["| check | artefact | passed |", "|---|---|---|"]
    lines += [f"| {k} | {artefacts.get(k, '-')} | {'yes' if v else '**NO**'} |" for k, v in checks.items()]
    if "rtlsim_vs_dataflow" not in checks:
        lines.append(f"| rtlsim_vs_dataflow | {artefacts['rtlsim_vs_dataflow']} | not run (`--no-rtlsim`) |")
    delivered = report.get("delivered")
    if delivered:
        lines += ["", f"Yosys, the Vivado project and the deployment package use the Verilog RTL in "
                      f"`{delivered['path']}`: {'simulated' if delivered['simulated'] else '**not simulated**'}."]
    return lines


# --- plots ------------------------------------------------------------------------------

def _figure(n_layers: int, height: float = 4.2):
    import matplotlib.pyplot as plt
    # widen with the layer count so 15+ conv layers keep legible labels
    return plt.subplots(figsize=(max(6.5, 0.75 * n_layers + 2.5), height), dpi=110)


def _label_axis(ax, layers: list, hot_name: str) -> None:
    ax.set_xticks(range(len(layers)))
    ax.set_xticklabels([f"{lay['name']}\n{lay['kind']}" for lay in layers], fontsize=8,
                       rotation=0 if len(layers) <= 8 else 45, ha="center" if len(layers) <= 8 else "right")
    for tick, lay in zip(ax.get_xticklabels(), layers):
        if lay["name"] == hot_name:
            tick.set_color(HOT_COLOR)
            tick.set_fontweight("bold")


def _plot_cycles(path: Path, report: dict) -> Path:
    import matplotlib.pyplot as plt
    import numpy as np
    layers, hot = report["layers"], bottleneck(report)
    x = np.arange(len(layers))
    est = np.array([lay["est_cycles"] for lay in layers], dtype=float)
    sim = [lay.get("sim_cycles") for lay in layers]
    have_sim = all(s is not None for s in sim)
    fig, ax = _figure(len(layers))
    w = 0.38 if have_sim else 0.6
    ax.bar(x - (w / 2 if have_sim else 0), est, w, color=EST_COLOR, label="estimate")
    if have_sim:
        ax.bar(x + w / 2, np.array(sim, dtype=float), w, color=SIM_COLOR, label="rtlsim")
    i = layers.index(hot)
    top = max(est.max(), max(s for s in sim if s is not None) if have_sim else 0)
    # outline the bottleneck's bars and mark the network's initiation interval
    ax.bar(x[i], top * 1.0, 2 * w if have_sim else w, fill=False, edgecolor=HOT_COLOR, linewidth=2.2,
           label=f"bottleneck: {hot['name']}")
    ax.axhline(top, color=HOT_COLOR, linestyle="--", linewidth=1)
    clock = report["clock_mhz"]
    ax.annotate(f"{top:g} cycles/image = {clock * 1e6 / top:,.0f} images/s", (x[i], top),
                xytext=(0, 6), textcoords="offset points", ha="center", color=HOT_COLOR, fontsize=9)
    if est.min() > 0 and est.max() / est.min() > 50:
        ax.set_yscale("log")  # conv nets mix layers of tens and thousands of cycles
    ax.set_ylim(top=top * (3 if ax.get_yscale() == "log" else 1.15))
    ax.set_ylabel("cycles per image")
    ax.set_title(f"Cycles per image by layer ({report['board']}, {clock:g} MHz)\n"
                 "the slowest layer sets the network's throughput", fontsize=10)
    _label_axis(ax, layers, hot["name"])
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _plot_layer_resources(path: Path, report: dict) -> Path:
    import matplotlib.pyplot as plt
    import numpy as np
    layers, hot = report["layers"], bottleneck(report)
    x = np.arange(len(layers))
    has_syn = any("synth" in lay for lay in layers)
    fig, axes = plt.subplots(2, 1, figsize=(max(6.5, 0.75 * len(layers) + 2.5), 6.4), dpi=110, sharex=True)
    for ax, key, label in ((axes[0], "lut", "LUT"), (axes[1], "bram18", "BRAM18")):
        est = [lay[f"est_{key}"] for lay in layers]
        w = 0.38 if has_syn else 0.6
        bars = ax.bar(x - (w / 2 if has_syn else 0), est, w, color=EST_COLOR, label="estimate")
        if has_syn:
            syn = [(lay.get("synth") or {}).get(key, 0) for lay in layers]
            ax.bar(x + w / 2, syn, w, color=SYN_COLOR, label="Yosys")
        for b, v in zip(bars, est):
            if v:
                ax.annotate(f"{v:,}", (b.get_x() + b.get_width() / 2, v), xytext=(0, 2),
                            textcoords="offset points", ha="center", fontsize=7)
        ax.set_ylabel(label)
        if max(est) == 0 and not has_syn:
            ax.set_ylim(0, 1)
            ax.text(0.5, 0.5, f"no {label} used", transform=ax.transAxes, ha="center", va="center", color="gray")
        else:
            ax.set_ylim(top=ax.get_ylim()[1] * 1.12)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    axes[0].set_title("Resources per layer")
    _label_axis(axes[1], layers, hot["name"])
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _plot_fit(path: Path, report: dict) -> Path:
    import matplotlib.pyplot as plt
    ok, source, rows = fit(report)
    rows = [r for r in rows if r[2]]
    # utilisation in percent puts LUTs (tens of thousands) and BRAMs (hundreds) on one axis
    pct = [100 * used / cap for _, used, cap in rows]
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(rows) + 1.6), dpi=110)
    colors = [HOT_COLOR if p > 100 else SIM_COLOR for p in pct]
    y = range(len(rows))
    ax.barh(y, pct, color=colors, height=0.55)
    ax.axvline(100, color="black", linewidth=1.5)
    ax.text(100, len(rows) - 0.4, " capacity", va="bottom", fontsize=8)
    for i, ((label, used, cap), p) in enumerate(zip(rows, pct)):
        ax.text(min(p, 100) + 1.5 if p < 85 else 2, i, f"{used:,} / {cap:,} ({p:.1f}%)", va="center", fontsize=8,
                color="black" if p < 85 else "white")
    ax.set_yticks(list(y))
    ax.set_yticklabels([r[0] for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, max(110, max(pct) * 1.1))
    ax.set_ylim(len(rows) - 0.3, -0.7)
    ax.set_xlabel("% of board capacity")
    ax.set_title(f"{'Fits' if ok else 'Does NOT fit'} on {report['board']} ({source})",
                 color="black" if ok else HOT_COLOR)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
