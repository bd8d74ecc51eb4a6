# Package the hwflow RTL and its weight/threshold ROM files (.mem) as an IP with AXI-Stream interfaces.
set here [file dirname [file normalize [info script]]]
source $here/settings.tcl
source $here/common.tcl

create_project -force hwflow_ip $here/ip_project -part $hw(part)
add_files -norecurse [lsort [glob $here/src/*.v]]
set mems [lsort [glob -nocomplain $here/src/*.mem]]
if {[llength $mems]} {
  add_files -norecurse $mems
  # Vivado's type for .mem: synthesis copies such files to the run so $readmemh finds them
  set_property file_type {Memory File} [get_files $mems]
}
set_property top hwflow_accel [current_fileset]
update_compile_order -fileset sources_1

ipx::package_project -root_dir $here/ip -vendor hwflow.org -library hwflow -taxonomy /UserIP -import_files \
  -set_current true
set core [ipx::current_core]
set_property name hwflow_accel $core
set_property version 1.0 $core
ipx::infer_bus_interfaces xilinx.com:interface:axis_rtl:1.0 $core
ipx::infer_bus_interfaces xilinx.com:signal:clock_rtl:1.0 $core
ipx::infer_bus_interfaces xilinx.com:signal:reset_rtl:1.0 $core
ipx::associate_bus_interfaces -busif s_axis -clock ap_clk $core
ipx::associate_bus_interfaces -busif m_axis -clock ap_clk $core
ipx::associate_bus_interfaces -clock ap_clk -reset ap_rst_n $core

# ap_rst_n is active low: the POLARITY bus parameter must exist before it can be set
set rst_if [ipx::get_bus_interfaces ap_rst_n -of_objects $core]
if {[ipx::get_bus_parameters -quiet POLARITY -of_objects $rst_if] eq ""} {
  ipx::add_bus_parameter POLARITY $rst_if
}
set_property value ACTIVE_LOW [ipx::get_bus_parameters POLARITY -of_objects $rst_if]

# Every ROM file explicitly in the IP's synthesis and simulation file groups: a .mem that does not
# travel with the IP leaves its ROM all zero, and the bitstream still builds.  File type "mif"
# (memory initialisation file) as FINN's IP packaging sets it for its $readmemh data files.
file mkdir $here/ip/src
foreach mem $mems {
  set rel src/[file tail $mem]
  file copy -force $mem $here/ip/$rel
  foreach group {xilinx_anylanguagesynthesis xilinx_anylanguagebehavioralsimulation} {
    set fg [ipx::get_file_groups $group -of_objects $core]
    if {$fg eq ""} { hwflow_error "the packaged IP has no $group file group for $rel" }
    # replace whatever package_project picked up, so the entry and its type are ours
    if {[ipx::get_files -quiet $rel -of_objects $fg] ne ""} { ipx::remove_file $rel $fg }
    set_property type mif [ipx::add_file $rel $fg]
  }
}

ipx::create_xgui_files $core
ipx::update_checksums $core
ipx::check_integrity $core
ipx::save_core $core
close_project
