"""Two runs of run_cpu.py side by side: minialex before and after a change.

    python benchmarks/compare_cpu.py BEFORE.md AFTER.md --title "..." --out results/NAME.md

Reads the training-step and layer tables of the two reports (minima, in
seconds or milliseconds) and writes one table: minialex's time in each run,
after / before, and PyTorch's time in each run, which says how much the
machine itself changed between the runs (both runs time PyTorch the same way,
interleaved with minialex).
"""
import argparse
import re


def tables(path):
    """[(the text above it, header cells, [row cells])] of a run_cpu.py report: every table."""
    out, above, header = [], "", None
    for line in open(path):
        if not line.startswith("|"):
            header = None
            above = line.strip() or above
        elif not set(line) <= set("|-: \n"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
                out.append((above, header, []))
            else:
                out[-1][2].append(cells)
    return out


def minimum(cell):
    """'1.604 (1.829)' -> 1.604: the minimum of the rounds (the median is in brackets)."""
    return float(re.match(r"[\d.]+", cell).group())


def rows(path):
    """[(case, minialex, PyTorch, unit)] of a report: every training step and every layer's fwd+bwd."""
    found = []
    for above, header, body in tables(path):
        if header[0] == "network" and "minialex s/step" in header:
            for r in body:
                found.append((f"{r[0]} step, batch {r[1]}, {r[2]} thread(s)", minimum(r[3]), minimum(r[4]), "s"))
        elif header[0] == "layer" and "minialex fwd+bwd" in header:
            threads = "1 thread" if "1 thread" in above else "all threads"
            i, j = header.index("minialex fwd+bwd"), header.index("PyTorch fwd+bwd")
            for r in body:
                found.append((f"{r[0]} fwd+bwd, batch {r[1]}, {threads}", minimum(r[i]), minimum(r[j]), "ms"))
    return found


def compare(before, after, title, commands):
    b = {case: (m, t, unit) for case, m, t, unit in rows(before)}
    lines = [f"# {title}", "", *commands, "",
             "Minima of the rounds. after / before < 1: the change made minialex faster. PyTorch's after / before "
             "says how much the machine drifted between the two runs.", "",
             "| case | minialex before | minialex after | after / before | PyTorch before | PyTorch after | "
             "PyTorch after / before |", "|---|---:|---:|---:|---:|---:|---:|"]
    for case, m, t, unit in rows(after):
        if case not in b:
            continue
        m0, t0, _ = b[case]
        lines.append(f"| {case} | {m0:g} {unit} | {m:g} {unit} | {m / m0:.2f} | {t0:g} {unit} | {t:g} {unit} | "
                     f"{t / t0:.2f} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--title", default="run_cpu.py before and after")
    ap.add_argument("--note", action="append", default=[], help="a line under the title (repeatable)")
    ap.add_argument("--out")
    a = ap.parse_args()
    text = compare(a.before, a.after, a.title, a.note)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
