#!/usr/bin/env bash
# One call on a GPU machine: install, run the `gpu` tests, then the GPU benchmarks,
# writing JSON under benchmarks/results/ (the GPU is named in each file).
#   bash benchmarks/gpu_check.sh            # on the GPU machine, from the repository root
#   SIZES="65536 1048576" bash benchmarks/gpu_check.sh   # fewer batch sizes
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[test]"
python -c "from numba import cuda; assert cuda.is_available(), 'no CUDA GPU'; print(cuda.get_current_device().name)"
timeout 180 python -m pytest -m gpu -n 0 -q
timeout 300 python benchmarks/gpu_lorenz.py --sizes ${SIZES:-65536 262144 1048576 4194304 8388608} --repeats 5 \
    --out benchmarks/results/gpu_lorenz.json
