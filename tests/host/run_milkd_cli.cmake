# milkd's command line outside the config itself: what is a usage error
# (exit status 2) and what it says.
#
#   cmake -DMILKD=<milkd> -DGOOD=<a good config> -DSCENARIO=<name> -P run_milkd_cli.cmake
cmake_minimum_required(VERSION 3.25)
foreach(var MILKD GOOD SCENARIO)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_milkd_cli.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run_milkd expected_status expected_text)
  execute_process(COMMAND "${CMAKE_COMMAND}" -E env --unset=MILK_PLACE "${MILKD}" ${ARGN}
                  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL expected_status)
    message(FATAL_ERROR "milkd ${ARGN}: exit status ${status}, expected ${expected_status}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  string(FIND "${out}${err}" "${expected_text}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "milkd ${ARGN}: the output lacks '${expected_text}'\nstdout:\n${out}\nstderr:\n${err}")
  endif()
endfunction()

if(SCENARIO STREQUAL "no-config")
  run_milkd(2 "--config is required" --check)
elseif(SCENARIO STREQUAL "unknown-option")
  run_milkd(2 "--colour" --check --config "${GOOD}" --colour)
elseif(SCENARIO STREQUAL "hooks-only-with-check")
  # The kernel test hooks would lie to a running host: refused without --check.
  run_milkd(2 "test hooks for --check" --config "${GOOD}" --kernel-components echo)
  run_milkd(2 "test hooks for --check" --config "${GOOD}" --kernel-device /nonexistent/milk)
elseif(SCENARIO STREQUAL "socket-with-check")
  run_milkd(2 "--socket has no meaning with --check" --check --config "${GOOD}" --socket /tmp/x.sock)
elseif(SCENARIO STREQUAL "help")
  run_milkd(0 "--place" --help)
else()
  message(FATAL_ERROR "run_milkd_cli.cmake: unknown scenario ${SCENARIO}")
endif()
