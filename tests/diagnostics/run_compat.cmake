# Runs `milkc --compat old.contract new.contract` in a case directory of
# contracts/testdata/compat and compares its output with the case's
# `expected` file, byte for byte: stderr for a case named E####-... (milkc
# must exit with 1 and report that code), stdout for any other case (milkc
# must exit with 0: the new version may serve old clients).
#
#   cmake -DMILKC=<milkc> -DDIR=<case directory> -DCASE=<name> -P run_compat.cmake
#
# With the environment variable MILK_UPDATE_EXPECTED=1 the expected file is
# (re)written from milkc's output instead; review the diff before committing.
cmake_minimum_required(VERSION 3.25)
foreach(var MILKC DIR CASE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_compat.cmake: -D${var}=... is required")
  endif()
endforeach()

execute_process(
  COMMAND "${MILKC}" --compat old.contract new.contract
  WORKING_DIRECTORY "${DIR}"
  RESULT_VARIABLE status
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)

if(CASE MATCHES "^(E[0-9][0-9][0-9][0-9])-")
  set(code "${CMAKE_MATCH_1}")
  if(NOT status EQUAL 1)
    message(FATAL_ERROR "milkc --compat in ${CASE} exited with '${status}', expected 1.\nstderr:\n${err}")
  endif()
  string(FIND "${err}" "error[${code}]" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "${CASE} does not produce ${code}; milkc said:\n${err}")
  endif()
  set(actual "${err}")
else()
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "milkc --compat in ${CASE} exited with '${status}', expected 0.\nstderr:\n${err}")
  endif()
  set(actual "${out}")
endif()

set(expected_file "${DIR}/expected")
if("$ENV{MILK_UPDATE_EXPECTED}" STREQUAL "1")
  file(WRITE "${expected_file}" "${actual}")
  message(STATUS "updated ${expected_file}")
  return()
endif()
file(READ "${expected_file}" expected)
if(NOT actual STREQUAL expected)
  message(FATAL_ERROR "milkc --compat in ${CASE} printed something else than ${expected_file}.\n"
                      "--- expected\n${expected}\n--- actual\n${actual}")
endif()
