# Runs `milkc --check CASE.contract` in the directory of the case and compares
# what it prints on stderr with CASE.expected, byte for byte. milkc must exit
# with status 1, and a case named E####-... must report that code.
#
#   cmake -DMILKC=<milkc> -DDIR=<dir> -DCASE=<name without .contract> -P run_case.cmake
#
# With the environment variable MILK_UPDATE_EXPECTED=1 the expected file is
# (re)written from milkc's output instead; review the diff before committing.
cmake_minimum_required(VERSION 3.25)
foreach(var MILKC DIR CASE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_case.cmake: -D${var}=... is required")
  endif()
endforeach()

# A relative path, run from the case's directory: the output names the file as
# `E0001-syntax-error.contract`, wherever the tree is checked out.
execute_process(
  COMMAND "${MILKC}" --check "${CASE}.contract"
  WORKING_DIRECTORY "${DIR}"
  RESULT_VARIABLE status
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)

if(NOT status EQUAL 1)
  message(FATAL_ERROR "milkc --check ${CASE}.contract exited with '${status}', expected 1.\nstderr:\n${err}")
endif()

if(CASE MATCHES "^(E[0-9][0-9][0-9][0-9])-")
  set(code "${CMAKE_MATCH_1}")
  string(FIND "${err}" "error[${code}]" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "${CASE}.contract does not produce ${code}; milkc said:\n${err}")
  endif()
endif()

set(expected_file "${DIR}/${CASE}.expected")
if("$ENV{MILK_UPDATE_EXPECTED}" STREQUAL "1")
  file(WRITE "${expected_file}" "${err}")
  message(STATUS "updated ${expected_file}")
  return()
endif()

if(NOT EXISTS "${expected_file}")
  message(FATAL_ERROR "${expected_file} is missing; create it with MILK_UPDATE_EXPECTED=1 and review it.\n"
                      "milkc said:\n${err}")
endif()
file(READ "${expected_file}" expected)
if(NOT err STREQUAL expected)
  file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/${CASE}.actual" "${err}")
  message(FATAL_ERROR "stderr of milkc differs from ${CASE}.expected\n"
                      "--- expected ---\n${expected}--- actual ---\n${err}--- end ---\n"
                      "(the actual output is in ${CMAKE_CURRENT_BINARY_DIR}/${CASE}.actual; "
                      "rerun with MILK_UPDATE_EXPECTED=1 to accept it)")
endif()
