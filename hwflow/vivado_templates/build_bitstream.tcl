# Synthesis, implementation, bitstream, timing check; the .bit and .hwh go to ../deploy/ (PYNQ's
# Overlay loads both).  A design that misses timing stops here unless hw(allow_negative_slack) is 1
# (settings.tcl) or the run was started with `-tclargs --allow-negative-slack` (run.sh passes its arguments).
set here [file dirname [file normalize [info script]]]
source $here/settings.tcl
source $here/common.tcl
set runs $here/project/hwflow.runs

launch_runs synth_1 -jobs 4
wait_on_run synth_1
# The promoted Synth 8-4445 stops synthesis; name the ROM file instead of just "synthesis failed"
foreach log [lsort [glob -nocomplain $runs/*/runme.log]] {
  set fh [open $log]
  set text [read $fh]
  close $fh
  if {[regexp {(?:CRITICAL WARNING|WARNING|ERROR): \[Synth 8-4445\][^\n]*} $text line]} {
    hwflow_error "synthesis could not read a ROM file, so its ROM would be all zero: $line"
  }
}
if {[get_property PROGRESS [get_runs synth_1]] ne "100%"} {
  hwflow_error "synthesis failed: see $runs/synth_1/runme.log"
}
launch_runs impl_1 -to_step write_bitstream -jobs 4
wait_on_run impl_1
if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} {
  hwflow_error "implementation failed: see $runs/impl_1/runme.log"
}

# Timing closure: worst setup and hold slack and the PL clock the implemented design was timed at
open_run impl_1
report_timing_summary -file $here/timing_summary.rpt
set wns [get_property SLACK [get_timing_paths -delay_type max -max_paths 1 -nworst 1]]
set whs [get_property SLACK [get_timing_paths -delay_type min -max_paths 1 -nworst 1]]
set clk [get_clocks -quiet $hw(pl_clock)]
set actual_mhz [expr {$clk eq "" ? "" : 1000.0 / [get_property PERIOD $clk]}]
set met [expr {$wns ne "" && $wns >= 0 && ($whs eq "" || $whs >= 0)}]
set allow [expr {$hw(allow_negative_slack) || ([info exists ::argv] && "--allow-negative-slack" in $::argv)}]
set fh [open $here/timing.json w]
puts $fh "{\"tool\": \"vivado\", \"vivado_version\": \"[version -short]\", \"wns_ns\": [hwflow_json_num $wns],\
\"whs_ns\": [hwflow_json_num $whs], \"clock_mhz_requested\": $hw(clock_mhz),\
\"clock_mhz_actual\": [hwflow_json_num $actual_mhz], \"met\": [expr {$met ? "true" : "false"}],\
\"negative_slack_allowed\": [expr {$allow ? "true" : "false"}]}"
close $fh
if {!$met} {
  set msg "timing not met at [hwflow_json_num $actual_mhz] MHz: WNS $wns ns, WHS $whs ns\
(see $here/timing_summary.rpt). Lower --clock-mhz or fold the network further"
  if {!$allow} {
    hwflow_error "$msg; or set hw(allow_negative_slack) 1 in settings.tcl to keep the bitstream anyway"
  }
  puts "CRITICAL WARNING: \[hwflow\] $msg; keeping the bitstream because negative slack is allowed"
}

set deploy [file normalize $here/../deploy]
file mkdir $deploy
file copy -force [glob $runs/impl_1/hwflow_bd_wrapper.bit] $deploy/hwflow.bit
set hwh [glob -nocomplain $here/project/hwflow.gen/sources_1/bd/hwflow_bd/hw_handoff/hwflow_bd.hwh \
  $here/project/hwflow.srcs/sources_1/bd/hwflow_bd/hw_handoff/hwflow_bd.hwh]
if {![llength $hwh]} { hwflow_error "no hwflow_bd.hwh in the project" }
file copy -force [lindex $hwh 0] $deploy/hwflow.hwh
puts "hwflow: bitstream in $deploy/hwflow.bit"
puts "hwflow: pack it into deploy.zip with `python -m hwflow deploy [file normalize $here/..]`"
