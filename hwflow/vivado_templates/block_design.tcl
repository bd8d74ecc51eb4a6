# Block design: Zynq PS, AXI DMA (simple mode), the hwflow IP, one PL clock from the PS.
set here [file dirname [file normalize [info script]]]
source $here/settings.tcl
source $here/common.tcl

# Board files.  Vivado ships none for PYNQ-Z1/Z2 and usually none for Ultra96-V2 or KV260, so add
# the folders we know of to the board repository paths before the project exists.
set repos [hwflow_board_repos $hw(board_files)]
if {[llength $repos]} {
  set_param board.repoPaths [concat $repos [get_param board.repoPaths]]
}
create_project -force hwflow $here/project -part $hw(part)
if {[llength $repos]} {
  # also in the project, so that reopening it in the GUI finds them
  set project_repos [get_property BOARD_PART_REPO_PATHS [current_project]]
  set_property BOARD_PART_REPO_PATHS [concat $repos $project_repos] [current_project]
}
set board_part [hwflow_find_board_part $hw(board_part)]
if {$board_part ne ""} {
  set_property board_part $board_part [current_project]
  set board_preset 1
} elseif {[llength $hw(ps_presets)]} {
  puts "WARNING: \[hwflow\] no board files for $hw(board_part): using the bare part $hw(part) with hwflow's PS\
settings for $hw(board). For the board's own presets get $hw(board_files_source) and pass the folder to\
hwflow build --board-files DIR (or put it in ~/.config/hwflow/board_files)."
  set board_preset 0
} else {
  hwflow_error "Vivado has no board files for $hw(board) ($hw(board_part)). Get $hw(board_files_source),\
then pass the folder to `hwflow build --board-files DIR` (write_vivado_project(board_files=DIR)) or put it in\
~/.config/hwflow/board_files on the machine that runs Vivado."
}

# A $readmemh file that synthesis cannot open is only a critical warning, Synth 8-4445 "could not
# open $readmem data file" (the id as Vivado logs it; lowRISC's Vivado scripts promote it the same
# way for their boot ROM): the ROM is left all zero, so make it an error for this project's runs.
set_msg_config -id {Synth 8-4445} -new_severity ERROR

set_property ip_repo_paths $here/ip [current_project]
update_ip_catalog
create_bd_design hwflow_bd

# The PS: master port for the DMA's registers, high-performance slave port for its data, PL clock 0
if {$hw(ps) eq "ps7"} {
  set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7:5.5 ps]
  apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
    -config [list make_external "FIXED_IO, DDR" apply_board_preset $board_preset Master Disable Slave Disable] $ps
  if {!$board_preset} { set_property -dict $hw(ps_presets) $ps }
  set_property -dict [list CONFIG.PCW_USE_M_AXI_GP0 1 CONFIG.PCW_USE_S_AXI_HP0 1 \
    CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $hw(clock_mhz)] $ps
  array set pin {clk /ps/FCLK_CLK0 rstn /ps/FCLK_RESET0_N master /ps/M_AXI_GP0 master_clk /ps/M_AXI_GP0_ACLK
                 slave /ps/S_AXI_HP0 slave_clk /ps/S_AXI_HP0_ACLK}
} elseif {$hw(ps) eq "ps8"} {
  set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:zynq_ultra_ps_e ps]
  apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e -config [list apply_board_preset $board_preset] $ps
  if {!$board_preset} { set_property -dict $hw(ps_presets) $ps }
  set_property -dict [list CONFIG.PSU__USE__M_AXI_GP0 1 CONFIG.PSU__USE__M_AXI_GP1 0 CONFIG.PSU__USE__S_AXI_GP2 1] $ps
  # Clear the basic-clock override first (as FINN's Zynq shell does) so the PL0 request is applied
  set_property -dict [list CONFIG.PSU__OVERRIDE__BASIC_CLOCK 0] $ps
  set_property -dict [list CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ $hw(clock_mhz)] $ps
  array set pin {clk /ps/pl_clk0 rstn /ps/pl_resetn0 master /ps/M_AXI_HPM0_FPD master_clk /ps/maxihpm0_fpd_aclk
                 slave /ps/S_AXI_HP0_FPD slave_clk /ps/saxihp0_fpd_aclk}
} else {
  hwflow_error "unknown PS type '$hw(ps)'"
}

set rst [create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset rst_ps]
connect_bd_net [get_bd_pins $pin(clk)] [get_bd_pins rst_ps/slowest_sync_clk]
connect_bd_net [get_bd_pins $pin(rstn)] [get_bd_pins rst_ps/ext_reset_in]

# AXI DMA in simple mode; stream widths are the IP's, memory-map widths set (not left to defaults)
set dma [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma dma]
set_property -dict [list CONFIG.c_include_sg 0 CONFIG.c_sg_include_stscntrl_strm 0 CONFIG.c_sg_length_width 26 \
  CONFIG.c_m_axis_mm2s_tdata_width $hw(in_width) CONFIG.c_s_axis_s2mm_tdata_width $hw(out_width) \
  CONFIG.c_m_axi_mm2s_data_width $hw(mm2s_mm_width) CONFIG.c_m_axi_s2mm_data_width $hw(s2mm_mm_width) \
  CONFIG.c_mm2s_burst_size 16 CONFIG.c_s2mm_burst_size 16] $dma

set accel [create_bd_cell -type ip -vlnv hwflow.org:hwflow:hwflow_accel:1.0 accel]
connect_bd_intf_net [get_bd_intf_pins dma/M_AXIS_MM2S] [get_bd_intf_pins accel/s_axis]
connect_bd_intf_net [get_bd_intf_pins accel/m_axis] [get_bd_intf_pins dma/S_AXIS_S2MM]
connect_bd_net [get_bd_pins $pin(clk)] [get_bd_pins accel/ap_clk]
connect_bd_net [get_bd_pins rst_ps/peripheral_aresetn] [get_bd_pins accel/ap_rst_n]

# Every clock and reset of the DMA and the interconnects wired by name, nothing left to "Auto"
connect_bd_net [get_bd_pins $pin(clk)] [get_bd_pins dma/s_axi_lite_aclk] [get_bd_pins dma/m_axi_mm2s_aclk] \
  [get_bd_pins dma/m_axi_s2mm_aclk] [get_bd_pins $pin(master_clk)] [get_bd_pins $pin(slave_clk)]
connect_bd_net [get_bd_pins rst_ps/peripheral_aresetn] [get_bd_pins dma/axi_resetn]

# DMA data to the PS's high-performance port through one interconnect we name (hp_ic)
set hp_ic [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_interconnect hp_ic]
set_property -dict [list CONFIG.NUM_SI 2 CONFIG.NUM_MI 1] $hp_ic
connect_bd_intf_net [get_bd_intf_pins dma/M_AXI_MM2S] [get_bd_intf_pins hp_ic/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins dma/M_AXI_S2MM] [get_bd_intf_pins hp_ic/S01_AXI]
connect_bd_intf_net [get_bd_intf_pins hp_ic/M00_AXI] [get_bd_intf_pins $pin(slave)]
connect_bd_net [get_bd_pins $pin(clk)] [get_bd_pins hp_ic/ACLK] [get_bd_pins hp_ic/S00_ACLK] \
  [get_bd_pins hp_ic/S01_ACLK] [get_bd_pins hp_ic/M00_ACLK]
connect_bd_net [get_bd_pins rst_ps/interconnect_aresetn] [get_bd_pins hp_ic/ARESETN]
connect_bd_net [get_bd_pins rst_ps/peripheral_aresetn] [get_bd_pins hp_ic/S00_ARESETN] \
  [get_bd_pins hp_ic/S01_ARESETN] [get_bd_pins hp_ic/M00_ARESETN]

# DMA registers from the PS's master port: the automation adds the AXI-Lite protocol converter;
# it is given the PL clock for every side and a new interconnect, so it chooses nothing itself
apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Clk_master $pin(clk) Clk_slave $pin(clk) \
  Clk_xbar $pin(clk) Master $pin(master) Slave /dma/S_AXI_LITE intc_ip {New AXI Interconnect} master_apm 0] \
  [get_bd_intf_pins dma/S_AXI_LITE]

assign_bd_address
validate_bd_design
save_bd_design
# one synthesis run for the whole design, so its log (and the Synth 8-4445 check) covers the IP
set_property synth_checkpoint_mode None [get_files hwflow_bd.bd]
make_wrapper -files [get_files hwflow_bd.bd] -top
add_files -norecurse [glob $here/project/hwflow.*/sources_1/bd/hwflow_bd/hdl/hwflow_bd_wrapper.v]
set_property top hwflow_bd_wrapper [current_fileset]
update_compile_order -fileset sources_1
