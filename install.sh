#!/bin/sh
# The one install recipe: `make` (into .venv) and the Dockerfile (into the image's Python) both run it.
#   sh install.sh [PYTHON]    install hwflow, editable with its test extras, into PYTHON's environment
# PYTHON defaults to python3; use a venv's python to keep the install out of the system's.
set -eu
PY=${1:-python3}
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)

"$PY" -m pip install --quiet --upgrade pip
# the CPU build of torch first, so nothing pulls a CUDA build
"$PY" -m pip install --quiet torch==2.13.0
"$PY" -m pip install --quiet -e "${HERE}[test]"
