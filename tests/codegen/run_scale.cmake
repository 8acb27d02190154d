# milkc on inputs far larger than any real contract (issue 14 §2). Each
# scenario writes its contract with milkc_scale_contracts, runs milkc on it and
# checks what a user would: that milkc accepts or rejects it with the right
# diagnostic, that its output stays small, and (at-limits) that the header it
# generates compiles. None of them measures time: the CTest timeout is
# generous for linear work and far too short for the quadratic work these
# inputs used to cause (see the numbers in docs/diagnostics.md).
#
#   cmake -DGENERATOR=<milkc_scale_contracts> -DMILKC=<milkc> -DWORK=<dir>
#         -DSCENARIO=<name> [-DCOMPILER=<c++> -DINCLUDES=<dirs> -DFLAGS=<flags>
#         -DC_COMPILER=<cc> -DC_FLAGS=<flags>]
#         -P run_scale.cmake
cmake_minimum_required(VERSION 3.25)
foreach(var GENERATOR MILKC WORK SCENARIO)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_scale.cmake: -D${var}=... is required")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(contract "${WORK}/scale.contract")

function(generate)
  execute_process(COMMAND "${GENERATOR}" ${ARGN} "${contract}" RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "milkc_scale_contracts ${ARGN} failed: ${status}")
  endif()
endfunction()

# Runs milkc; sets status, out, err in the caller.
macro(run_milkc)
  execute_process(COMMAND "${MILKC}" ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
endmacro()

# A macro, so that `err` stays visible to the caller.
macro(expect_rejected code)
  run_milkc(--check "${contract}")
  if(NOT status EQUAL 1)
    message(FATAL_ERROR "milkc exited with '${status}', expected 1; stderr begins:\n${err}")
  endif()
  string(FIND "${err}" "error[${code}]" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "milkc did not report ${code}; stderr begins:\n${err}")
  endif()
  string(LENGTH "${err}" length)
  if(length GREATER 65536)
    message(FATAL_ERROR "milkc printed ${length} bytes of diagnostics; at most 50 errors are shown")
  endif()
endmacro()

if(SCENARIO STREQUAL "doc-lines")
  # 400,000 comment lines: quadratic collection took 24 s for 100,000.
  generate(doc-lines 400000)
  run_milkc("${contract}" --out "${WORK}/out" --emit cpp)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "milkc failed on the documented struct: ${err}")
  endif()
  file(STRINGS "${WORK}/out/scale.hpp" first REGEX "^// Documentation line 0\\.$")
  file(STRINGS "${WORK}/out/scale.hpp" last REGEX "^// Documentation line 399999\\.$")
  file(STRINGS "${WORK}/out/scale.hpp" lines REGEX "^// Documentation line [0-9]+\\.$")
  list(LENGTH lines count)
  if(NOT first OR NOT last OR NOT count EQUAL 400000)
    message(FATAL_ERROR "the header holds ${count} of the 400000 documentation lines")
  endif()
elseif(SCENARIO STREQUAL "bad-bytes")
  # 1 MiB of bytes that start no token, on one line: each error used to print
  # the whole line (64 KB of them gave 1.16 GB of diagnostics and 2 GB of memory).
  generate(bad-bytes 1048576)
  expect_rejected(E0002)
  string(REGEX MATCH "note: [0-9]+ more errors not shown; milkc shows the first 50 of a file" note "${err}")
  if(NOT note)
    message(FATAL_ERROR "milkc did not say how many errors it did not show")
  endif()
elseif(SCENARIO STREQUAL "deep-array")
  # A million array dimensions: one error, and no recursion a million deep.
  generate(deep-array 1000000)
  expect_rejected(E0070)
elseif(SCENARIO STREQUAL "struct-chain")
  # 100,000 structs, each holding the previous: over the declaration limit,
  # found before any check walks the chain.
  generate(struct-chain 100000)
  expect_rejected(E0071)
  # 10 levels deep is within the limit.
  generate(struct-chain 10)
  run_milkc(--check "${contract}")
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "a chain of 10 structs was rejected: ${err}")
  endif()
  generate(struct-chain 12)
  expect_rejected(E0070)
elseif(SCENARIO STREQUAL "at-limits")
  foreach(var COMPILER INCLUDES FLAGS)
    if(NOT DEFINED ${var})
      message(FATAL_ERROR "run_scale.cmake: -D${var}=... is required for at-limits")
    endif()
  endforeach()
  generate(at-limits)
  run_milkc("${contract}" --out "${WORK}/out" --emit cpp,kernel)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "milkc rejected the contract at its limits:\n${err}")
  endif()
  file(WRITE "${WORK}/at_limits.cpp" "#include \"scale.hpp\"\n")
  set(include_flags "")
  foreach(dir IN LISTS INCLUDES)
    list(APPEND include_flags "-I${dir}")
  endforeach()
  execute_process(
    COMMAND "${COMPILER}" ${FLAGS} ${include_flags} "-I${WORK}/out" "${WORK}/at_limits.cpp"
    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    string(SUBSTRING "${err}" 0 4000 err)
    message(FATAL_ERROR "the header milkc generated at its limits does not compile:\n${err}")
  endif()
  # The kernel C stub as well, as C with the warnings tests/kstub holds the
  # stubs to.
  if(DEFINED C_COMPILER)
    file(WRITE "${WORK}/at_limits_kstub.c" "#include \"scale.kstub.h\"\n")
    execute_process(
      COMMAND "${C_COMPILER}" ${C_FLAGS} "-I${WORK}/out" "${WORK}/at_limits_kstub.c"
      RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT status EQUAL 0)
      string(SUBSTRING "${err}" 0 4000 err)
      message(FATAL_ERROR "the kernel stub milkc generated at its limits does not compile:\n${err}")
    endif()
  endif()
else()
  message(FATAL_ERROR "run_scale.cmake: unknown SCENARIO '${SCENARIO}'")
endif()
