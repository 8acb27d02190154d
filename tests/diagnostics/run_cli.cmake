# milkc's command-line behaviour, one scenario per test:
#
#   cmake -DMILKC=<milkc> -DGOOD=<good contract> -DBAD=<bad contract> -DOUT=<scratch dir>
#         -DSCENARIO=<name> -P run_cli.cmake
cmake_minimum_required(VERSION 3.25)
foreach(var MILKC GOOD BAD OUT SCENARIO)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_cli.cmake: -D${var}=... is required")
  endif()
endforeach()

function(expect_status expected)
  if(NOT status EQUAL ${expected})
    message(FATAL_ERROR "${SCENARIO}: milkc exited with '${status}', expected ${expected}\n"
                        "stdout:\n${out}\nstderr:\n${err}")
  endif()
endfunction()

function(expect_err_contains text)
  string(FIND "${err}" "${text}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "${SCENARIO}: stderr lacks '${text}':\n${err}")
  endif()
endfunction()

file(REMOVE_RECURSE "${OUT}")
file(MAKE_DIRECTORY "${OUT}")

if(SCENARIO STREQUAL "no-output-on-error")
  # A good file and a bad one: nothing at all is written, not even the good one's outputs.
  execute_process(COMMAND "${MILKC}" "${GOOD}" "${BAD}" --out "${OUT}/gen" --emit cpp,kernel,dot,promela
                  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  expect_status(1)
  file(GLOB_RECURSE written "${OUT}/*")
  if(written)
    message(FATAL_ERROR "${SCENARIO}: milkc wrote files although it failed: ${written}")
  endif()
elseif(SCENARIO STREQUAL "default-emit")
  # Default emit is cpp,kernel; an existing output is replaced.
  file(WRITE "${OUT}/pingpong.hpp" "stale")
  execute_process(COMMAND "${MILKC}" "${GOOD}" --out "${OUT}"
                  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  expect_status(0)
  file(GLOB written RELATIVE "${OUT}" "${OUT}/*")
  list(SORT written)
  if(NOT written STREQUAL "pingpong.hpp;pingpong.kstub.h")
    message(FATAL_ERROR "${SCENARIO}: expected pingpong.hpp and pingpong.kstub.h, got: ${written}")
  endif()
  file(READ "${OUT}/pingpong.hpp" header)
  if(header STREQUAL "stale")
    message(FATAL_ERROR "${SCENARIO}: pingpong.hpp was not rewritten")
  endif()
elseif(SCENARIO STREQUAL "unreadable-file")
  execute_process(COMMAND "${MILKC}" --check "${OUT}/missing.contract"
                  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  expect_status(1)
  expect_err_contains("milkc: error: cannot read '${OUT}/missing.contract': No such file or directory")
elseif(SCENARIO STREQUAL "bad-command-line")
  foreach(arguments "--check;--out;${OUT}/x;${GOOD}" "${GOOD}" "--emit;nonsense;--out;${OUT};${GOOD}" "--bogus" "")
    execute_process(COMMAND "${MILKC}" ${arguments}
                    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
    expect_status(2)
    expect_err_contains("milkc: error: ")
  endforeach()
elseif(SCENARIO STREQUAL "kernel-registry")
  # milk.ko's registry: three files from the --component list, and each bad
  # list refused with its message before anything is written.
  set(spec "echo=ns::Echo=echo/echo.hpp=${GOOD}")
  execute_process(COMMAND "${MILKC}" --emit kernel-registry --component "${spec}" --out "${OUT}/gen"
                  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  expect_status(0)
  file(GLOB written RELATIVE "${OUT}/gen" "${OUT}/gen/*")
  list(SORT written)
  if(NOT written STREQUAL "milk_components.cpp;milk_components.kbuild;milk_kstub_common.h")
    message(FATAL_ERROR "${SCENARIO}: expected the registry's three files, got: ${written}")
  endif()
  file(REMOVE_RECURSE "${OUT}/gen")
  foreach(case
      "2|expected NAME=TYPE=HEADER=CONTRACT|--component;echo=ns::Echo=${GOOD}"
      "2|a component's name is [a-z][a-z0-9_]*|--component;Echo=ns::Echo=echo/echo.hpp=${GOOD}"
      "2|HEADER must be relative to components/|--component;echo=ns::Echo=/echo/echo.hpp=${GOOD}"
      "2|HEADER must be relative to components/|--component;echo=ns::Echo=../echo.hpp=${GOOD}"
      "2|is named twice|--component;${spec};--component;${spec}"
      "2|--component is only for --emit kernel-registry|--emit;cpp;--component;${spec};${GOOD}"
      "2|takes no contract files and no other emitter|--emit;kernel-registry;--component;${spec};${GOOD}"
      "2|--emit kernel-registry needs --component|--emit;kernel-registry"
      "1|holds 2 contracts|--component;tour=ns::Tour=t/t.hpp=${TWO_CONTRACTS}"
      "1|error[E0031]|--component;bad=ns::Bad=b/b.hpp=${BAD}")
    string(REPLACE "|" ";" parts "${case}")
    list(POP_FRONT parts expected text)
    set(arguments ${parts})
    if(NOT "--emit" IN_LIST arguments)
      list(PREPEND arguments --emit kernel-registry)
    endif()
    execute_process(COMMAND "${MILKC}" ${arguments} --out "${OUT}/gen"
                    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
    expect_status(${expected})
    expect_err_contains("${text}")
    file(GLOB_RECURSE written "${OUT}/*")
    if(written)
      message(FATAL_ERROR "${SCENARIO}: milkc wrote files although it failed (${case}): ${written}")
    endif()
  endforeach()
elseif(SCENARIO STREQUAL "version")
  execute_process(COMMAND "${MILKC}" --version
                  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  expect_status(0)
  if(NOT out MATCHES "^milkc [0-9]+\\.[0-9]+\\.[0-9]+")
    message(FATAL_ERROR "${SCENARIO}: unexpected version output '${out}'")
  endif()
else()
  message(FATAL_ERROR "run_cli.cmake: unknown scenario '${SCENARIO}'")
endif()
