"""Devices behind one interface (:class:`~android_harness.devices.base.Device`), by name.

    >>> from android_harness.devices import DEVICES
    >>> DEVICES.names()
    ['adb', 'emulator', 'host']
"""

from android_harness.devices.adb import AdbDevice
from android_harness.devices.base import ArtifactFormat, Device, RunSettings, artifact_format
from android_harness.devices.emulator import EmulatorDevice
from android_harness.devices.host import HostDevice
from toolchain.registry import Registry

DEVICES: Registry[type[Device]] = Registry("device")
for _cls in (HostDevice, EmulatorDevice, AdbDevice):
    DEVICES.register(_cls.name)(_cls)

__all__ = ["DEVICES", "AdbDevice", "ArtifactFormat", "Device", "EmulatorDevice", "HostDevice", "RunSettings",
           "artifact_format"]
