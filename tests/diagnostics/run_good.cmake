# A good contract must pass `milkc --check` silently (one summary line per
# contract on stdout, nothing on stderr) and then generate every output.
#
#   cmake -DMILKC=<milkc> -DFILE=<contract> -DOUT=<scratch dir> -P run_good.cmake
cmake_minimum_required(VERSION 3.25)
foreach(var MILKC FILE OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_good.cmake: -D${var}=... is required")
  endif()
endforeach()

execute_process(COMMAND "${MILKC}" --check "${FILE}"
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT status EQUAL 0 OR NOT err STREQUAL "")
  message(FATAL_ERROR "milkc --check ${FILE} exited with '${status}'\nstderr:\n${err}")
endif()
string(REGEX MATCHALL "contract [A-Za-z0-9_]+: [0-9]+ states, [0-9]+ transitions, [0-9]+ configurations explored: ok\n"
       summaries "${out}")
file(STRINGS "${FILE}" contract_lines REGEX "^contract ")
list(LENGTH summaries summary_count)
list(LENGTH contract_lines contract_count)
if(NOT summary_count EQUAL contract_count OR contract_count EQUAL 0)
  message(FATAL_ERROR "expected ${contract_count} summary lines ending in ': ok', got:\n${out}")
endif()
# And one line of cut points per contract (codegen/cut_points.hpp).
string(REGEX MATCHALL "contract [A-Za-z0-9_]+: cut points \\(the server owes nothing\\): [A-Za-z0-9_, ]+\n"
       cut_lines "${out}")
list(LENGTH cut_lines cut_count)
if(NOT cut_count EQUAL contract_count)
  message(FATAL_ERROR "expected ${contract_count} cut point lines, got:\n${out}")
endif()

file(REMOVE_RECURSE "${OUT}")
execute_process(COMMAND "${MILKC}" "${FILE}" --out "${OUT}" --emit cpp,kernel,dot,promela
                RESULT_VARIABLE status ERROR_VARIABLE err)
if(NOT status EQUAL 0 OR NOT err STREQUAL "")
  message(FATAL_ERROR "milkc ${FILE} --out ${OUT} exited with '${status}'\nstderr:\n${err}")
endif()
get_filename_component(stem "${FILE}" NAME_WE)
foreach(extension .hpp .kstub.h .dot .pml)
  if(NOT EXISTS "${OUT}/${stem}${extension}")
    message(FATAL_ERROR "milkc did not write ${OUT}/${stem}${extension}")
  endif()
endforeach()
