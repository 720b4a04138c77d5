"""Profiles are data: the Pixel 2 file, its CPU tree, and errors for bad profiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from android_harness.cpu_tree import cpu_tree_files, midr
from android_harness.device_profile import BUILTIN_DIR, available_profiles, load_profile
from toolchain.errors import ConfigError, UsageError


def pixel2_data() -> dict:
    return json.loads((BUILTIN_DIR / "pixel2.json").read_text())


def test_pixel2_profile():
    p = load_profile("pixel2")
    assert p.memory_mb == 1536 and p.default_threads == 1 and p.qemu_cpu == "cortex-a53"
    assert p.implementer == 0x51 and p.n_cpus == 8
    assert [(c.cores, c.part, c.max_freq_khz) for c in p.clusters] == [(4, 0x801, 1900800), (4, 0x800, 2352000)]
    assert p.features == ("fp", "asimd", "evtstrm", "aes", "pmull", "sha1", "sha2", "crc32")


def test_pixel2_cpu_tree():
    files = cpu_tree_files(load_profile("pixel2"))
    cpuinfo = files["proc/cpuinfo"]
    assert cpuinfo.count("processor\t:") == 8
    assert cpuinfo.count("CPU part\t: 0x801") == 4 and cpuinfo.count("CPU part\t: 0x800") == 4
    assert cpuinfo.index("0x801") < cpuinfo.index("0x800")  # little cluster numbered first
    assert cpuinfo.rstrip().endswith("Hardware\t: Qualcomm Technologies, Inc MSM8998")
    assert "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n" in cpuinfo
    base = "sys/devices/system/cpu"
    assert files[f"{base}/possible"] == "0-7\n" and files[f"{base}/kernel_max"] == "7\n"
    assert files[f"{base}/cpu0/regs/identification/midr_el1"] == "0x0000000051af8014\n"
    assert files[f"{base}/cpu7/regs/identification/midr_el1"] == "0x0000000051af8001\n"
    assert files[f"{base}/cpu5/topology/cluster_cpus_list"] == "4-7\n"
    assert files[f"{base}/cpu2/cpufreq/cpuinfo_max_freq"] == "1900800\n"
    assert midr(0x51, 0xA, 0x800, 1) == 0x51AF8001


def test_new_phone_is_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ODTOOL_HOME", str(tmp_path))
    data = pixel2_data()
    data.update(name="tinyphone", memory_mb=512)
    data["cpu"]["clusters"] = data["cpu"]["clusters"][:1]
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "tinyphone.json").write_text(json.dumps(data))
    assert "tinyphone" in available_profiles()
    p = load_profile("tinyphone")
    assert p.n_cpus == 4 and p.memory_mb == 512
    assert cpu_tree_files(p)["sys/devices/system/cpu/online"] == "0-3\n"


def test_bad_profile_lists_every_problem_with_file_and_field(tmp_path):
    data = pixel2_data()
    del data["memory_mb"]
    data["qemu_cpu"] = ""
    data["colour"] = "blue"
    data["cpu"]["clusters"][1]["part"] = 2048
    data["cpu"]["clusters"][0]["min_freq_khz"] = 3_000_000
    path = tmp_path / "pixel2.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as e:
        load_profile(path)
    msg = str(e.value)
    assert str(path) in msg and "5 problems" in msg
    for needle in ("memory_mb: expected an integer", "qemu_cpu: expected a non-empty string",
                   "colour: unknown field", "cpu.clusters[1].part: expected a hex string",
                   "cpu.clusters[0].min_freq_khz: 3000000 is above max_freq_khz"):
        assert needle in msg


def test_profile_name_must_match_file_and_json_must_parse(tmp_path):
    data = pixel2_data()
    (tmp_path / "other.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="must equal the file name"):
        load_profile(tmp_path / "other.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_profile(tmp_path / "broken.json")


def test_threads_cannot_exceed_cores(tmp_path):
    data = pixel2_data()
    data["default_threads"] = 9
    (tmp_path / "pixel2.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="default_threads: 9 is more than the profile's 8 cores"):
        load_profile(tmp_path / "pixel2.json")


def test_unknown_profile_lists_valid_names():
    with pytest.raises(UsageError, match="unknown device profile 'pixel9'; valid: .*pixel2"):
        load_profile("pixel9")
    with pytest.raises(UsageError, match="does not exist"):
        load_profile(Path("/nonexistent/phone.json"))
