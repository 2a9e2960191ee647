#!/usr/bin/env bash
# Installs what tweetlm needs on Debian 12, idempotently: the Debian packages of the build and
# the tests (apt-get, 'apt-get update' at most once), and the pinned npm test clients into
# tools/node/node_modules (project-local, gitignored). Fast when everything is present; safe to
# run any number of times. Nothing is downloaded at build or run time afterwards.
#
#   scripts/setup.sh            # everything
#   TLM_SKIP_NPM=1 scripts/setup.sh   # Debian packages only (no npm clients)
set -euo pipefail
cd "$(dirname "$0")/.."

# Build and library dependencies (see ../shared/DESIGN.md "Dependencies").
packages=(
  g++ cmake ninja-build pkg-config git            # toolchain
  libgtest-dev libgmock-dev libbenchmark-dev      # tests and benchmarks
  libcli11-dev nlohmann-json3-dev libsimdjson-dev # command line, JSON
  libxxhash-dev libzstd-dev zlib1g-dev zstd gzip  # hashing, compression (+ CLIs for tests)
  libutf8proc-dev                                 # Unicode NFC and categories
  libopenblas-openmp-dev libblis-dev              # CPU matrix products (BLAS chosen by bench_sgemm)
  libdnnl-dev                                     # oneDNN: bf16 matmuls of train --dtype bf16 (optional)
  libopenmpi-dev openmpi-bin iproute2             # MPI: multi-process training (mpirun); ip netns for its two-host test
  python3-torch python3-numpy                     # PyTorch reference of the model tests, training peer
  libsqlite3-dev libhnswlib-dev libcpp-httplib-dev # search index, HTTP server
  clang libclang-rt-14-dev                        # libFuzzer and sanitizers
  python3                                         # benchmark peer, report checks
  fortunes fortunes-min                           # the quick start's default corpus
  chromium                                        # the browser test of the server's web page (playwright-core drives it)
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm run the real clients of the tests; any Node >= 18 will do.
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: Debian packages present"
fi

# npm test clients, pinned exactly in tools/node/package.json (+ package-lock.json).
if [ "${TLM_SKIP_NPM:-0}" != 1 ]; then
  stamp=tools/node/node_modules/.tweetlm-installed
  if [ ! -f "$stamp" ] || [ tools/node/package-lock.json -nt "$stamp" ] || [ tools/node/package.json -nt "$stamp" ]; then
    echo "setup: installing npm test clients into tools/node"
    # node-llama-cpp ships prebuilt llama.cpp binaries as optional packages; never build from source.
    (cd tools/node && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  else
    echo "setup: npm test clients present"
  fi
fi
