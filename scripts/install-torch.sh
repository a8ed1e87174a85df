#!/bin/sh
# Installs the torch that requirements.txt pins, choosing the build a user wants, before the rest of
# the requirements (which then find torch already satisfied and pull no CUDA wheels):
#   1. TORCH_INDEX_URL, when set, is used as it is (e.g. a CUDA or ROCm wheel index);
#   2. a torch already installed, or a wheel this machine provides offline (pip's find-links, a local mirror);
#   3. on Linux without an NVIDIA GPU, PyTorch's CPU wheel index: about 200 MB instead of about 3 GB of
#      CUDA wheels, which is what the package index gives for a plain `pip install torch` on Linux;
#   4. otherwise the package index (a GPU machine on Linux; macOS and Windows, whose wheels are CPU builds).
# Usage: scripts/install-torch.sh PYTHON REQUIREMENTS_FILE
set -eu
py=$1
reqs=$2
cpu_index=${TORCH_CPU_INDEX_URL:-https://download.pytorch.org/whl/cpu}
pin=$(grep -E '^torch *[=<>~!]' "$reqs" | head -n 1 | tr -d ' ')
[ -n "$pin" ] || { echo "install-torch: no torch pin in $reqs" >&2; exit 1; }
pip="$py -m pip install --quiet --disable-pip-version-check --no-deps"

if [ -n "${TORCH_INDEX_URL:-}" ]; then
    echo "install-torch: $pin from $TORCH_INDEX_URL"
    exec $pip --index-url "$TORCH_INDEX_URL" "$pin"
fi
if $pip --no-index "$pin" 2>/dev/null; then
    echo "install-torch: $pin was already installed, or came from a wheel this machine provides"
    exit 0
fi
if [ "$(uname -s)" = Linux ] && ! nvidia-smi -L >/dev/null 2>&1; then
    echo "install-torch: no NVIDIA GPU found, so $pin comes from PyTorch's CPU wheel index ($cpu_index)"
    exec $pip --index-url "$cpu_index" "$pin"
fi
echo "install-torch: $pin from the package index"
exec $pip "$pin"
