#!/usr/bin/python3
"""Sharded audits (issue 14): audit throughput reading WebDataset shards vs
the same images as a folder, and the time to merge 100 partial reports.

  bench/shards_bench.py FOLDER WORK [--batchscope PATH] [--pipeline P.json]
                        [--shards 8] [--rounds 3] [--workers 2] [--parts 100]

FOLDER is an ImageFolder (e.g. from bench/make_datasets.py imagenet). The
shards are written into WORK with Python's tarfile, in ImageFolder order.
Rates are samples / the report's run.seconds (the scan, without process
start-up and listing), alternating folder and shards each round; medians
are printed. The merge is timed as a whole process (reading, merging,
writing the report) over `--parts` partial reports of the shards dataset.
"""
import argparse
import glob
import io
import json
import os
import statistics
import subprocess
import tarfile
import time


def imagefolder(root):
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    out = []
    for label, c in enumerate(classes):
        for dirpath, _, files in sorted(os.walk(os.path.join(root, c))):
            for f in sorted(files):
                out.append((os.path.join(dirpath, f), c, label))
    return classes, out


def write_shards(folder, out, count):
    classes, samples = imagefolder(folder)
    os.makedirs(out, exist_ok=True)
    per = (len(samples) + count - 1) // count
    for s in range(count):
        with tarfile.open(os.path.join(out, "shard-%06d.tar" % s), "w", format=tarfile.USTAR_FORMAT) as tar:
            for i, (path, c, label) in enumerate(samples[s * per:(s + 1) * per], s * per):
                key = "%s_%07d" % (c, i)
                tar.add(path, arcname=key + os.path.splitext(path)[1].lower())
                info = tarfile.TarInfo(key + ".cls")
                data = str(label).encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    with open(os.path.join(out, "classes.txt"), "w") as f:
        f.write("\n".join(classes) + "\n")
    return len(samples)


def audit_rate(bs, data, pipeline, workers, report):
    subprocess.run([bs, "audit", data, "--pipeline", pipeline, "--workers", str(workers), "--quiet",
                    "--fail-on", "never", "--report", report], check=True, stdout=subprocess.DEVNULL)
    run = json.load(open(report))["run"]
    return run["scanned"] / run["seconds"]


def peak_rss_mib(cmd):
    """Runs cmd; its own peak resident memory (wait4's rusage, this child only)."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit("%s exited with %d" % (cmd[1], p.returncode))
    return usage.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("work")
    ap.add_argument("--batchscope", default="build/app/batchscope")
    ap.add_argument("--pipeline", default="bench/imagenet_eval.json")
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--parts", type=int, default=100)
    a = ap.parse_args()
    shards = os.path.join(a.work, "shards")
    n = write_shards(a.folder, shards, a.shards)
    rates = {"folder": [], "shards": []}
    for _ in range(a.rounds):
        for kind, data in (("folder", a.folder), ("shards", shards)):
            rates[kind].append(audit_rate(a.batchscope, data, a.pipeline, a.workers,
                                          os.path.join(a.work, kind + ".json")))
    f, s = statistics.median(rates["folder"]), statistics.median(rates["shards"])
    print("samples=%d shards=%d workers=%d rounds=%d" % (n, a.shards, a.workers, a.rounds))
    print("folder_audit_samples_per_s=%.1f (%s)" % (f, ", ".join("%.1f" % r for r in rates["folder"])))
    print("shards_audit_samples_per_s=%.1f (%s)" % (s, ", ".join("%.1f" % r for r in rates["shards"])))
    print("shards/folder=%.3f" % (s / f))

    parts = os.path.join(a.work, "parts")
    os.makedirs(parts, exist_ok=True)
    # Path-hash assignment over the folder: `--parts` parts of any size.
    for i in range(a.parts):
        subprocess.run([a.batchscope, "audit", a.folder, "--pipeline", a.pipeline, "--workers", "1", "--quiet",
                        "--shard", "%d/%d" % (i, a.parts), "--report", os.path.join(parts, "part-%03d.json" % i)],
                       check=True, stdout=subprocess.DEVNULL)
    files = sorted(glob.glob(os.path.join(parts, "part-*.json")))
    size = sum(os.path.getsize(p) for p in files)
    times, peaks = [], []
    for _ in range(a.rounds):
        t = time.perf_counter()
        peaks.append(peak_rss_mib([a.batchscope, "merge", *files, "--report",
                                   os.path.join(a.work, "merged.json"), "--quiet", "--fail-on", "never"]))
        times.append(time.perf_counter() - t)
    print("merge_parts=%d parts_bytes=%d merge_seconds=%.2f (%s)" %
          (len(files), size, statistics.median(times), ", ".join("%.2f" % t for t in times)))
    # The libraries alone (libtorch, OpenCV) account for most of a process's
    # peak: `merge --help` loads them and does nothing else.
    base = peak_rss_mib([a.batchscope, "merge", "--help"])
    print("merge_peak_rss_mib=%.1f (libraries alone: %.1f, merge's own: %.1f)" %
          (max(peaks), base, max(peaks) - base))


if __name__ == "__main__":
    main()
