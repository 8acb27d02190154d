# bench.smoke: runs milk-bench with a tiny iteration count and checks that it
# completes and writes valid JSON with every section. Numbers are not checked:
# a benchmark's results are for people to read, not for a test to assert.
#
#   cmake -DMILK_BENCH=<path to milk-bench> -DOUT_DIR=<dir> -P smoke_test.cmake
cmake_minimum_required(VERSION 3.25)

file(REMOVE_RECURSE "${OUT_DIR}")
execute_process(
  COMMAND "${MILK_BENCH}" --iterations 200 --bytes-iterations 20 --stream-messages 2000
          --out "${OUT_DIR}" --no-plot
  RESULT_VARIABLE status
  OUTPUT_VARIABLE output
  ERROR_VARIABLE errors)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "milk-bench failed (${status}):\n${output}\n${errors}")
endif()

set(json_path "${OUT_DIR}/milk-bench.json")
if(NOT EXISTS "${json_path}")
  message(FATAL_ERROR "milk-bench wrote no ${json_path}:\n${output}")
endif()
file(READ "${json_path}" json)

# string(JSON) fails (and so does the test) on anything that does not parse.
string(JSON schema ERROR_VARIABLE json_error GET "${json}" schema)
if(json_error)
  message(FATAL_ERROR "${json_path} is not valid JSON: ${json_error}")
endif()
if(NOT schema STREQUAL "milk-bench/1")
  message(FATAL_ERROR "unexpected schema '${schema}'")
endif()

# Every section is there and every row has a name; measured rows carry a
# latency object, unmeasured ones a note saying why.
foreach(section round_trip bytes memcpy ratios)
  string(JSON count ERROR_VARIABLE json_error LENGTH "${json}" ${section})
  if(json_error OR count EQUAL 0)
    message(FATAL_ERROR "section '${section}' missing or empty: ${json_error}")
  endif()
endforeach()
foreach(section round_trip bytes)
  string(JSON count LENGTH "${json}" ${section})
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON id GET "${json}" ${section} ${i} id)
    string(JSON measured GET "${json}" ${section} ${i} measured)
    if(measured)
      string(JSON p50 ERROR_VARIABLE json_error GET "${json}" ${section} ${i} latency p50_ns)
    else()
      string(JSON p50 ERROR_VARIABLE json_error GET "${json}" ${section} ${i} note)
    endif()
    if(json_error)
      message(FATAL_ERROR "${section}[${i}] (${id}): ${json_error}")
    endif()
  endforeach()
endforeach()

# Every ratio with a target says PASS, MISS or not measured.
string(JSON count LENGTH "${json}" ratios)
math(EXPR last "${count} - 1")
foreach(i RANGE ${last})
  string(JSON target_type TYPE "${json}" ratios ${i} target)
  if(NOT target_type STREQUAL "NULL")
    string(JSON result ERROR_VARIABLE json_error GET "${json}" ratios ${i} result)
    if(json_error OR NOT result MATCHES "^(PASS|MISS|not measured)$")
      string(JSON id GET "${json}" ratios ${i} id)
      message(FATAL_ERROR "ratio ${id} has no verdict: ${json_error}")
    endif()
  endif()
endforeach()

# The report printed every ratio line the issue asks for.
foreach(line "cache-line transfer" "raw ring RT" "raw ring stream" "pipe RT" "unix_socket RT" "eventfd RT"
             "blocking RT / eventfd RT" "blocking RT / eventfd_process RT" "1 MiB / 64 B")
  string(FIND "${output}" "${line}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the report has no line with '${line}':\n${output}")
  endif()
endforeach()
message(STATUS "milk-bench smoke run completed; ${json_path} is valid")
