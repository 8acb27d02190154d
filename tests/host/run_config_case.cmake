# Runs `milkd --check --config CASE.toml` in the directory of the case and
# compares its output with CASE.expected, byte for byte:
#
#   H####-name.toml   a bad config: milkd must exit with 1, report H####, and
#                     print exactly CASE.expected on stderr;
#   anything else     a good one: exit 0, nothing on stderr, and exactly
#                     CASE.expected on stdout (the summary).
#
# Beside a case, optional:
#   CASE.args  more arguments for milkd, one per line (--place ..., and the
#              test hooks --kernel-components / --kernel-device);
#   CASE.env   the value of MILK_PLACE for the run (without it, MILK_PLACE
#              is unset, whatever the caller's environment says).
#
#   cmake -DMILKD=<milkd> -DDIR=<dir> -DCASE=<name without .toml> -P run_config_case.cmake
#
# With MILK_UPDATE_EXPECTED=1 in the environment the expected file is
# (re)written from milkd's output instead; review the diff before committing.
cmake_minimum_required(VERSION 3.25)
foreach(var MILKD DIR CASE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_config_case.cmake: -D${var}=... is required")
  endif()
endforeach()

set(args "")
if(EXISTS "${DIR}/${CASE}.args")
  file(STRINGS "${DIR}/${CASE}.args" args)
endif()
set(environment --unset=MILK_PLACE)
if(EXISTS "${DIR}/${CASE}.env")
  file(STRINGS "${DIR}/${CASE}.env" place LIMIT_COUNT 1)
  set(environment "MILK_PLACE=${place}")
endif()

# A relative path, run from the case's directory: the output names the file
# as `H0001-syntax-error.toml`, wherever the tree is checked out.
execute_process(
  COMMAND "${CMAKE_COMMAND}" -E env ${environment} "${MILKD}" --check --config "${CASE}.toml" ${args}
  WORKING_DIRECTORY "${DIR}"
  RESULT_VARIABLE status
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)

if(CASE MATCHES "^(H[0-9][0-9][0-9][0-9])-")
  set(code "${CMAKE_MATCH_1}")
  if(NOT status EQUAL 1)
    message(FATAL_ERROR "milkd --check ${CASE}.toml exited with '${status}', expected 1.\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  string(FIND "${err}" "error[${code}]" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "${CASE}.toml does not produce ${code}; milkd said:\n${err}")
  endif()
  set(actual "${err}")
else()
  if(NOT status EQUAL 0 OR NOT err STREQUAL "")
    message(FATAL_ERROR "milkd --check ${CASE}.toml exited with '${status}', expected 0 and no errors.\nstderr:\n${err}")
  endif()
  set(actual "${out}")
endif()

set(expected_file "${DIR}/${CASE}.expected")
if("$ENV{MILK_UPDATE_EXPECTED}" STREQUAL "1")
  file(WRITE "${expected_file}" "${actual}")
  message(STATUS "updated ${expected_file}")
  return()
endif()
if(NOT EXISTS "${expected_file}")
  message(FATAL_ERROR "${expected_file} is missing; create it with MILK_UPDATE_EXPECTED=1 and review it.\n"
                      "milkd said:\n${actual}")
endif()
file(READ "${expected_file}" expected)
if(NOT actual STREQUAL expected)
  message(FATAL_ERROR "the output of milkd differs from ${CASE}.expected\n"
                      "--- expected ---\n${expected}--- actual ---\n${actual}--- end ---\n"
                      "(rerun with MILK_UPDATE_EXPECTED=1 to accept it)")
endif()
