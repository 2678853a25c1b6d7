#!/usr/bin/env bash
# --workers scaling on a many-core machine: --workers 1 against --workers 8 on a long 1080p clip.
#
#   bash benchmarks/workers.sh            # from the repository root; about 3-5 minutes on 16 cores
#
# It makes a virtual environment in .venv-bench (unless .venv exists), generates a 3000-frame
# 1080p H.264 clip (2 minutes at 25 fps; cached in benchmarks/.cache), times the bundled ffmpeg's
# decode, `vid2trail --workers 1` and `vid2trail --workers 8` twice each, and prints the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [ ! -x "$PY" ]; then
    python3 -m venv .venv-bench
    .venv-bench/bin/python -m pip install --quiet -e .
    PY=.venv-bench/bin/python
fi
echo "nproc: $(nproc)"
"$PY" benchmarks/run.py --workers-scaling "${WORKERS:-8}" --frames "${FRAMES:-3000}" --reps "${REPS:-2}"
