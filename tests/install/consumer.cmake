# cmake -DSTEP=build|regenerate -DPREFIX=... -DSCRATCH=... -DCONSUMER_SOURCE=...
#       -DGENERATOR=... -DCXX=... [-DCONFIG=...] -P consumer.cmake
#
# STEP=build: copies consumer/ into SCRATCH/src (outside milk's tree, so
# nothing but the installed package can be found), configures it with
# CMAKE_PREFIX_PATH=PREFIX, builds it, runs it, and checks that milk came from
# PREFIX.
#
# STEP=regenerate: on the project built by STEP=build, checks that
# milk_add_contract's rule re-runs milkc when the contract changes, when milkc
# changes, and not otherwise.
cmake_minimum_required(VERSION 3.25)
foreach(var STEP PREFIX SCRATCH CONSUMER_SOURCE GENERATOR CXX)
  if(NOT ${var})
    message(FATAL_ERROR "consumer.cmake: ${var} not set")
  endif()
endforeach()
if(NOT CONFIG)
  set(CONFIG RelWithDebInfo)
endif()

set(src "${SCRATCH}/src")
set(bin "${SCRATCH}/build")
set(header "${bin}/greeter_contract_milk/greeter.hpp")

# Runs a command; fails the test with its output when it fails. The output
# goes to OUT_VAR for the caller to check.
function(run out_var)
  execute_process(COMMAND ${ARGN}
    OUTPUT_VARIABLE output ERROR_VARIABLE output RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    list(JOIN ARGN " " command)
    message(FATAL_ERROR "failed (${status}): ${command}\n${output}")
  endif()
  set(${out_var} "${output}" PARENT_SCOPE)
endfunction()

function(build out_var)
  run(output "${CMAKE_COMMAND}" --build "${bin}" --config "${CONFIG}")
  set(${out_var} "${output}" PARENT_SCOPE)
endfunction()

if(STEP STREQUAL "build")
  file(REMOVE_RECURSE "${SCRATCH}")
  file(COPY "${CONSUMER_SOURCE}/" DESTINATION "${src}")

  # The package registries are off so that only PREFIX can supply milk.
  run(output "${CMAKE_COMMAND}" -S "${src}" -B "${bin}" -G "${GENERATOR}"
      "-DCMAKE_CXX_COMPILER=${CXX}" "-DCMAKE_BUILD_TYPE=${CONFIG}"
      "-DCMAKE_PREFIX_PATH=${PREFIX}"
      -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
  message(STATUS "${output}")

  file(STRINGS "${bin}/CMakeCache.txt" milk_dir REGEX "^milk_DIR:")
  string(REGEX REPLACE "^milk_DIR:[A-Z]+=" "" milk_dir "${milk_dir}")
  cmake_path(IS_PREFIX PREFIX "${milk_dir}" NORMALIZE from_prefix)
  if(NOT from_prefix)
    message(FATAL_ERROR "milk was found in '${milk_dir}', not under ${PREFIX}")
  endif()

  build(output)
  message(STATUS "${output}")
  if(NOT EXISTS "${header}")
    message(FATAL_ERROR "milk_add_contract did not generate ${header}")
  endif()

  run(output "${bin}/greeter")
  message(STATUS "${output}")
  if(NOT output MATCHES "greeter: sent hello 41 \\(5 bytes\\), got welcome 42 \\(\"hello\" reversed: \"olleh\"\\)")
    message(FATAL_ERROR "unexpected output from the consumer:\n${output}")
  endif()

elseif(STEP STREQUAL "regenerate")
  if(NOT EXISTS "${header}")
    message(FATAL_ERROR "no consumer build in ${bin}: run STEP=build first")
  endif()

  # A contract edit: a new declaration must show up in the header.
  file(READ "${src}/greeter.contract" contract)
  string(REPLACE "contract Greeter" "enum RegenerateProbe : u8 { probe = 1 }\n\ncontract Greeter"
         contract "${contract}")
  file(WRITE "${src}/greeter.contract" "${contract}")
  build(output)
  if(NOT output MATCHES "milkc: generating greeter")
    message(FATAL_ERROR "editing the contract did not re-run milkc:\n${output}")
  endif()
  file(READ "${header}" generated)
  if(NOT generated MATCHES "RegenerateProbe")
    message(FATAL_ERROR "the regenerated header lacks the new enum RegenerateProbe")
  endif()

  # Nothing changed: milkc must not run again (it would, every build, if an
  # output were older than its inputs).
  build(output)
  if(output MATCHES "milkc: generating")
    message(FATAL_ERROR "a no-op rebuild re-ran milkc:\n${output}")
  endif()

  # A new milkc (here: the same one, newer) regenerates.
  file(TOUCH "${PREFIX}/bin/milkc")
  build(output)
  if(NOT output MATCHES "milkc: generating greeter")
    message(FATAL_ERROR "a newer milkc did not re-run milkc:\n${output}")
  endif()
  build(output)
  if(output MATCHES "milkc: generating")
    message(FATAL_ERROR "a no-op rebuild after the new milkc re-ran milkc:\n${output}")
  endif()
  run(output "${bin}/greeter")
  message(STATUS "${output}")

else()
  message(FATAL_ERROR "consumer.cmake: unknown STEP '${STEP}'")
endif()
