#!/bin/sh
# The GPU check in one command (see scripts/gpu_check.py): on a machine without CUDA it lists what it would run.
cd "$(dirname "$0")/.." && exec "${PYTHON:-.venv/bin/python}" scripts/gpu_check.py "$@"
