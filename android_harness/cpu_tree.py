"""The fake ``/proc/cpuinfo`` and ``/sys/devices/system/cpu`` a profile shows the guest.

Under ``qemu-aarch64-static -L ROOT`` a guest that opens ``/proc/cpuinfo`` reads
``ROOT/proc/cpuinfo`` when that file exists. ExecuTorch's XNNPACK and ONNX Runtime size
their thread pools and pick kernels through the cpuinfo library, which reads exactly these
files; with the host's x86 text ONNX Runtime crashes (signal 11), with an ARM description
it sees the phone's clusters (``processors 8, clusters 2, uarchs 2`` for the Pixel 2).

Only the files cpuinfo reads are written: the per-CPU ``MIDR_EL1`` (implementer, variant,
part, revision), cpufreq limits, the topology lists, and the possible/present/online masks.
"""

from __future__ import annotations

from pathlib import Path

from android_harness.device_profile import Profile


def cpu_list(lo: int, hi: int) -> str:
    """Format a CPU index range as a Linux cpulist: "lo-hi", or "lo" for one CPU."""
    return f"{lo}-{hi}" if hi > lo else f"{lo}"


def midr(implementer: int, variant: int, part: int, revision: int) -> int:
    """MIDR_EL1: implementer[31:24] variant[23:20] architecture=0xF[19:16] part[15:4] revision[3:0]."""
    return (implementer << 24) | (variant << 20) | (0xF << 16) | (part << 4) | revision


def cpuinfo_text(profile: Profile) -> str:
    """``/proc/cpuinfo`` as an arm64 Linux kernel prints it: one block per CPU, then Hardware."""
    blocks = []
    cpu = 0
    for cl in profile.clusters:
        for _ in range(cl.cores):
            blocks.append(
                f"processor\t: {cpu}\n"
                f"BogoMIPS\t: {profile.bogomips}\n"
                f"Features\t: {' '.join(profile.features)}\n"
                f"CPU implementer\t: 0x{profile.implementer:02x}\n"
                f"CPU architecture: {profile.architecture}\n"
                f"CPU variant\t: 0x{cl.variant:x}\n"
                f"CPU part\t: 0x{cl.part:03x}\n"
                f"CPU revision\t: {cl.revision}\n")
            cpu += 1
    return "\n".join(blocks) + f"\nHardware\t: {profile.hardware}\n"


def cpu_tree_files(profile: Profile) -> dict[str, str]:
    """Relative path (under the guest root) -> file content, for every file of the tree."""
    n = profile.n_cpus
    base = "sys/devices/system/cpu"
    files = {"proc/cpuinfo": cpuinfo_text(profile)}
    for name in ("possible", "present", "online"):
        files[f"{base}/{name}"] = cpu_list(0, n - 1) + "\n"
    files[f"{base}/kernel_max"] = f"{n - 1}\n"
    files[f"{base}/offline"] = "\n"
    cpu = 0
    for ci, cl in enumerate(profile.clusters):
        lo, hi = cpu, cpu + cl.cores - 1
        for k in range(cl.cores):
            d = f"{base}/cpu{cpu}"
            files[f"{d}/online"] = "1\n"
            files[f"{d}/regs/identification/midr_el1"] = \
                f"0x{midr(profile.implementer, cl.variant, cl.part, cl.revision):016x}\n"
            files[f"{d}/regs/identification/revidr_el1"] = "0x0000000000000000\n"
            for f, v in (("cpuinfo_max_freq", cl.max_freq_khz), ("cpuinfo_min_freq", cl.min_freq_khz),
                         ("cpuinfo_cur_freq", cl.max_freq_khz), ("scaling_max_freq", cl.max_freq_khz)):
                files[f"{d}/cpufreq/{f}"] = f"{v}\n"
            t = f"{d}/topology"
            files[f"{t}/physical_package_id"] = f"{ci}\n"
            files[f"{t}/cluster_id"] = f"{ci}\n"
            files[f"{t}/core_id"] = f"{k}\n"
            files[f"{t}/thread_siblings_list"] = f"{cpu}\n"
            files[f"{t}/core_cpus_list"] = f"{cpu}\n"
            for f in ("core_siblings_list", "package_cpus_list", "cluster_cpus_list"):
                files[f"{t}/{f}"] = cpu_list(lo, hi) + "\n"
            cpu += 1
    return files


def write_cpu_tree(root: Path, profile: Profile) -> int:
    """Write the tree under ``root`` (``root/proc``, ``root/sys``); returns the file count."""
    files = cpu_tree_files(profile)
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return len(files)
