#!/bin/sh
# Installs the Debian 12 packages batchscope needs to build, run and test
# (clang and its libFuzzer runtime for the fuzz replay CI runs), only when
# something is missing. Runs apt as root, or through sudo.
set -e
PACKAGES="cmake g++ make pkg-config qt6-base-dev libtorch-dev libopencv-dev nlohmann-json3-dev
 libjpeg62-turbo-dev libtiff-dev libgif-dev libpng-dev libexif-dev libzip-dev libarchive-dev zlib1g-dev libgl-dev
 python3-torch python3-torchvision python3-pil python3-numpy python3-skimage dataset-fashion-mnist
 xvfb xauth imagemagick clang libclang-rt-14-dev slurm-wlm munge zstd python3-yaml"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "Installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
