# Helpers shared by hwflow's Vivado scripts (sourced after settings.tcl).

# Stop the run.  The "ERROR:" line is what hwflow and a reader of vivado.log look for first.
proc hwflow_error {msg} {
  puts "ERROR: \[hwflow\] $msg"
  error $msg
}

# Board-file folders that exist on this machine: the one given to hwflow, then the per-user default.
proc hwflow_board_repos {given} {
  set dirs {}
  if {$given ne ""} {
    if {[file isdirectory $given]} {
      lappend dirs [file normalize $given]
    } else {
      puts "WARNING: \[hwflow\] board files folder $given does not exist on this machine"
    }
  }
  if {[info exists ::env(HOME)]} {
    set home [file join $::env(HOME) .config hwflow board_files]
    if {[file isdirectory $home] && [lsearch -exact $dirs [file normalize $home]] < 0} {
      lappend dirs [file normalize $home]
    }
  }
  return $dirs
}

# The board part to use: the exact one, else the newest file version of the same board, else "".
proc hwflow_find_board_part {board_part} {
  set found [get_board_parts -quiet $board_part]
  if {[llength $found]} { return [lindex $found 0] }
  set any_version [join [lrange [split $board_part :] 0 2] :]:*
  return [lindex [get_board_parts -quiet -latest_file_version $any_version] 0]
}

# A number for JSON, or null when Vivado reported none.
proc hwflow_json_num {value} {
  if {$value eq ""} { return null }
  return [format %.3f $value]
}
