"""Provisioning of the emulator: host tools, arm64 sysroot, aarch64 wheels, runners.

Entry points: :func:`android_harness.provision.setup.setup` (``odtool emulator setup``)
and :func:`android_harness.provision.status.status` (``odtool emulator status``).
"""

from android_harness.provision.layout import EmulatorLayout, default_cache_dir

__all__ = ["EmulatorLayout", "default_cache_dir"]
