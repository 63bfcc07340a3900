"""The virtual lab: a virtual Android device (the device side of the ADB protocol) and helpers
to run a private adb server, for tests and `farm sim`. Stdlib only; never imported by the farm."""
