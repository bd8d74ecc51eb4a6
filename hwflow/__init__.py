"""hwflow: binary neural networks from Brevitas to streaming FPGA dataflow hardware."""

__version__ = "0.1.0"
