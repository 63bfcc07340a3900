# Facts about a Linux board, one key=value per line; run by farm.targets.ssh with $1 = python.
py="${1:-python3}"
echo "uname=$(uname -srm)"
echo "board=$(tr -d '\0' < /proc/device-tree/model 2>/dev/null \
  || cat /sys/class/dmi/id/product_name 2>/dev/null)"
echo "cpu=$(grep -m1 -E '^(model name|Hardware|Model)' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "cores=$(nproc 2>/dev/null)"
echo "python=$("$py" -c 'import platform; print(platform.python_version())' 2>/dev/null)"
echo "edgetpu_library=$(ls /usr/lib/*/libedgetpu.so.1 /usr/lib/libedgetpu.so.1 2>/dev/null | head -1)"
# An Edge TPU: the PCIe driver's /dev/apex_N, or the USB accelerator before / after its firmware.
echo "edgetpu_device=$(ls /dev/apex_* 2>/dev/null | head -1)$(lsusb 2>/dev/null \
  | grep -m1 -oE '1a6e:089a|18d1:9302')"
