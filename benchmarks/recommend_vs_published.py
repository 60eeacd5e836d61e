"""Compare `hwtune recommend` estimates with published MLPerf Inference results (closed division,
Offline scenario, NVIDIA TensorRT submissions, per GPU). Prints a table; runs in a second.

    python benchmarks/recommend_vs_published.py

"fit" rows are the results the INT8 efficiencies in efficiency.csv (and the SSD-MobileNet
compute_scale in workloads.csv) were chosen from, so their
agreement only shows the rounding; "check" rows were not used to choose anything.
"""

from __future__ import annotations

from hwtune.recommend.engine import Request, recommend

REPO = "github.com/mlcommons/inference_results_"
# (GPU, workload, precision, published samples/s per GPU, GPUs in the system, source, use)
PUBLISHED = [
    ("Tesla T4", "resnet50", "int8", 6035.57, 1, "v0.7 closed/NVIDIA/results/T4x1_TRT/resnet50/Offline", "fit"),
    ("A30", "resnet50", "int8", 18265.0, 1, "v1.1 closed/NVIDIA/results/A30x1_TRT/resnet50/Offline", "fit"),
    ("A10", "resnet50", "int8", 13805.2, 1, "v1.1 closed/NVIDIA/results/A10x1_TRT/resnet50/Offline", "fit"),
    ("A100 PCIe 80GB", "resnet50", "int8", 39152.4, 1, "v3.0 closed/NVIDIA/results/A100-PCIe-80GBx1_TRT/resnet50/Offline", "fit"),
    ("A100 SXM4 80GB", "resnet50", "int8", 42379.3, 1, "v3.0 closed/NVIDIA/results/DGX-A100_A100-SXM-80GBx1_TRT/resnet50/Offline", "fit"),
    ("L4", "resnet50", "int8", 12881.7, 1, "v3.1 closed/NVIDIA/results/L4x1_TRT/resnet50/Offline", "fit"),
    ("H100 PCIe 80GB", "resnet50", "int8", 54851.4, 1, "v3.1 closed/NVIDIA/results/H100-PCIe-80GBx1_TRT/resnet50/Offline", "fit"),
    ("H100 SXM5 80GB", "resnet50", "int8", 88526.0, 1, "v3.1 closed/NVIDIA/results/DGX-H100_H100-SXM-80GBx1_TRT/resnet50/Offline", "fit"),
    ("Tesla T4", "resnet50", "int8", 48897.8, 8, "v0.7 closed/NVIDIA/results/T4x8_TRT/resnet50/Offline", "check"),
    ("A100 PCIe 40GB", "resnet50", "int8", 32008.2, 1, "v0.7 closed/NVIDIA/results/A100-PCIex1_TRT/resnet50/Offline (2020 software)", "check"),
    ("Tesla T4", "ssd-mobilenet", "int8", 7959.76, 1, "v0.7 closed/NVIDIA/results/T4x1_TRT/ssd-mobilenet/Offline", "fit"),
    ("A100 PCIe 40GB", "ssd-mobilenet", "int8", 44370.9, 1, "v0.7 closed/NVIDIA/results/A100-PCIex1_TRT/ssd-mobilenet/Offline", "fit"),
    ("Tesla T4", "bert-large", "int8", 3494.53, 8, "v0.7 closed/NVIDIA/results/T4x8_TRT/bert-99/Offline", "check"),
    ("A100 PCIe 40GB", "bert-large", "int8", 2859.17, 1, "v0.7 closed/NVIDIA/results/A100-PCIex1_TRT/bert-99/Offline", "check"),
    ("L4", "bert-large", "int8", 1028.95, 1, "v3.1 closed/NVIDIA/results/L4x1_TRT/bert-99/Offline", "check"),
    ("H100 SXM5 80GB", "bert-large", "int8", 9102.26, 1, "v3.1 closed/NVIDIA/results/DGX-H100_H100-SXM-80GBx1_TRT/bert-99/Offline", "check"),
]


def main() -> None:
    cache: dict[tuple[str, str], dict[str, float]] = {}
    print(f"{'GPU':<16} {'workload':<14} {'use':<6} {'published/GPU':>13} {'estimate':>9} {'est/pub':>8}  source ({REPO}...)")
    ratios: dict[str, list[float]] = {}
    for gpu, wl, prec, published, n, source, use in PUBLISHED:
        if (wl, prec) not in cache:
            rec = recommend(Request(workload=wl, precision=prec, batch=128))
            cache[(wl, prec)] = {e.gpu.name: e.throughput_per_s for e in rec.estimates}
        per_gpu = published / n
        est = cache[(wl, prec)][gpu]
        ratio = est / per_gpu
        ratios.setdefault(f"{use} {wl}", []).append(ratio)
        print(f"{gpu:<16} {wl:<14} {use:<6} {per_gpu:>13,.0f} {est:>9,.0f} {ratio:>8.2f}  {source}")
    print()
    for key, rs in ratios.items():
        print(f"{key:<20} estimate/published: min {min(rs):.2f}, max {max(rs):.2f} over {len(rs)} result(s)")


if __name__ == "__main__":
    main()
