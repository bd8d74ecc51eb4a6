# The whole flow: vivado -mode batch -source build.tcl (run.sh does this)
set here [file dirname [file normalize [info script]]]
source $here/package_ip.tcl
source $here/block_design.tcl
source $here/build_bitstream.tcl
