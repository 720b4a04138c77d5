"""Device harness: run exported artifacts on the host, the Pixel 2 emulator or a phone over adb.

* :mod:`android_harness.devices` - the device interface and registry (host, emulator, adb)
* :mod:`android_harness.device_profile` - phone profiles (``profiles/*.json``)
* :mod:`android_harness.inputs` - the runners' session input file
* :mod:`android_harness.results` / :mod:`android_harness.topk` - runner JSON and top-k checks
* :mod:`android_harness.provision` - ``odtool emulator setup`` / ``status``
* :mod:`android_harness.runner_build` - build-on-first-use of the native runner
"""
